"""The feedback classifier on forty messages written the way people write them: with and
without diacritics, with the old names of places since the 2025 merger, abbreviations, and no
category chosen. The shares routed right are measured, and asserted exactly."""

from __future__ import annotations

import pytest

from activities.routing import classify, classify_service, find_commune

# (text, commune expected, service expected)
MESSAGES: list[tuple[str, str, str]] = [
    ("Đường Y Wang, phường Ea Kao có nhiều ổ gà rất nguy hiểm", "24169", "roads"),
    ("duong y wang phuong ea kao nhieu o ga nguy hiem qua", "24169", "roads"),
    ("Đèn đường trước chợ xã Ea Kar tắt cả tuần nay, tối om", "24373", "lighting"),
    ("den duong o xa ea kar hong ca tuan, buoi toi toi om", "24373", "lighting"),
    ("Rác thải ùn ứ ở cuối hẻm 20 Lê Duẩn, TP Buôn Ma Thuột, mùi hôi", "24133", "waste"),
    ("rac thai un u o hem 20 Le Duan tp BMT, mui hoi thoi", "24133", "waste"),
    ("Mất nước sinh hoạt 3 ngày tại phường Tân Lập", "24121", "water"),
    ("mat nuoc 3 ngay nay o phuong tan lap roi", "24121", "water"),
    ("Nhà hàng karaoke hát đến 1 giờ sáng ở phường Tân An, tiếng ồn quá", "24163", "order"),
    ("karaoke hat toi 1h sang phuong tan an on ao qua", "24163", "order"),
    ("Hồ sơ khai sinh của con tôi trễ hẹn 5 ngày ở UBND xã Krông Pắc", "24490", "public_service"),
    ("ho so khai sinh tre hen 5 ngay o ubnd xa krong pac", "24490", "public_service"),
    ("Cống thoát nước bị tắc, mưa là ngập ở thị trấn Phước An", "24490", "water"),
    ("cong thoat nuoc tac, mua la ngap o thi tran phuoc an", "24490", "water"),
    ("Đường liên thôn ở xã Cư M’gar xuống cấp, lầy lội mùa mưa", "24280", "roads"),
    ("duong lien thon xa cu mgar xuong cap lay loi", "24280", "roads"),
    (
        "Lấn chiếm vỉa hè bán hàng trên đường Nguyễn Tất Thành, phường Buôn Ma Thuột",
        "24133",
        "order",
    ),
    ("lan chiem via he duong nguyen tat thanh p. buon ma thuot", "24133", "order"),
    ("Bãi rác tự phát gần trường học ở xã Ea H’leo gây ô nhiễm", "24184", "waste"),
    ("bai rac tu phat gan truong o xa ea hleo o nhiem", "24184", "waste"),
    ("Cầu treo ở xã Krông Nô bị hư hỏng, người dân đi lại khó khăn", "24604", "roads"),
    ("cau treo xa krong no hu hong nguoi dan di lai kho", "24604", "roads"),
    ("Cột đèn chiếu sáng ngã ở phường Tuy Hòa chưa ai sửa", "22015", "lighting"),
    ("cot den chieu sang nga o tp tuy hoa chua ai sua", "22015", "lighting"),
    ("Nước máy ở thị xã Sông Cầu đục ngầu mấy hôm nay", "22051", "water"),
    ("nuoc may o tx song cau duc ngau", "22051", "water"),
    ("Cán bộ một cửa xã Đồng Xuân thái độ không tốt với người dân", "22081", "public_service"),
    ("can bo mot cua xa dong xuan thai do khong tot", "22081", "public_service"),
    ("Xây dựng trái phép trên đất nông nghiệp ở xã Hòa Phú", "24175", "order"),
    ("xay dung trai phep tren dat nong nghiep xa hoa phu", "24175", "order"),
    ("Khói bụi từ lò gạch ở thị trấn Buôn Trấp làm cả xóm khó thở", "24538", "waste"),
    ("khoi bui lo gach thi tran buon trap ca xom kho tho", "24538", "waste"),
    ("Đường vào buôn ở Ban Mê bị sụt lún sau mưa", "24133", "roads"),
    ("Ở phường Thắng Lợi cũ, cống bị vỡ ống nước chảy lênh láng", "24133", "water"),
    ("Xin cho hỏi thủ tục tách hộ ở xã Liên Sơn Lắk cần giấy tờ gì", "24580", "public_service"),
    ("Đường Hùng Vương ngập nặng mỗi khi mưa, huyện Lắk cũ", "24580", "water"),
    ("o xa dray bhang co nhieu o ga tren tinh lo", "24561", "roads"),
    ("Tại huyện Cư Kuin cũ đèn đường không sáng", "24561", "lighting"),
    ("Nhà dân ở xã Ea Súp xả nước thải ra suối gây ô nhiễm nặng", "24211", "waste"),
    ("Ổ voi trên quốc lộ qua phường Buôn Hồ, tỉnh Đắk Lắk", "24305", "roads"),
]


# Written after the classifier, and not tuned for: misspellings, village names only, two places.
HELD_OUT: list[tuple[str, str, str]] = [
    ("Krong Pak co doan duong bi sut lun nang", "24490", "roads"),
    ("Thôn 5 Ea Tiêu đèn đường hỏng hết", "24561", "lighting"),
    ("Ở Buôn Ma Thuột rác không ai thu gom ở đường Trần Phú", "24133", "waste"),
    ("Nước ngập nhà dân ở Hòa Xuân, Tuy Hòa", "22291", "water"),
    ("Quán nhậu ồn ào tới khuya, phường Thành Nhất", "24154", "order"),
    ("Em ở Cư Mgar, xin hỏi làm sổ đỏ mất bao lâu", "24280", "public_service"),
    ("M'Drak thieu nuoc sach tu thang truoc", "24412", "water"),
    ("Đường từ Buôn Hồ đi Krông Búk hư hỏng nặng, đoạn qua xã Krông Búk", "24310", "roads"),
    ("ea hleo co bai rac gan cho", "24184", "waste"),
    ("Tại thôn 2 xã Hoà Sơn, cột đèn bị đổ", "24481", "lighting"),
]


def test_forty_messages_are_routed_and_the_shares_are_measured() -> None:
    assert len(MESSAGES) == 40
    plain = sum(1 for text, _, _ in MESSAGES if text.isascii())
    communes_right = [find_commune(text) == commune for text, commune, _ in MESSAGES]
    services_right = [classify_service(text) == service for text, _, service in MESSAGES]
    misses = [
        (text, find_commune(text), classify_service(text))
        for (text, commune, service) in MESSAGES
        if find_commune(text) != commune or classify_service(text) != service
    ]
    # 17 of the 40 are written without diacritics.
    assert plain == 17
    assert (sum(communes_right), sum(services_right)) == (40, 40), misses


def test_held_out_messages_are_measured_too() -> None:
    communes = sum(find_commune(text) == commune for text, commune, _ in HELD_OUT)
    services = sum(classify_service(text) == service for text, _, service in HELD_OUT)
    # Missed: a misspelling ("Krong Pak") and a village name alone ("Ea Tiêu").
    assert (communes, services) == (8, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "tỉnh Phú Yên" is the former province, not Phường Phú Yên.
        ("Ở tỉnh Phú Yên cũ, xã Sơn Thành mất điện", "22250"),
        ("Phú Hòa 2 có ổ gà", "22306"),
        # The prefixed name wins over a street named after another place.
        ("đường Buôn Đôn, phường Tân Lập", "24121"),
        ("Đắk Lắk có nhiều ổ gà", None),
    ],
)
def test_hard_cases(text: str, expected: str | None) -> None:
    assert find_commune(text) == expected


def test_the_citizens_choice_wins_over_the_text() -> None:
    chosen = classify("ổ gà ở phường Tân An", chosen_service="waste", chosen_commune="24121")
    assert (chosen.service_code, chosen.commune_code) == ("waste", "24121")
    assert (chosen.service_method, chosen.commune_method) == ("chosen", "chosen")
    read = classify("nhiều ổ gà", address="phuong tan an")
    assert (read.service_code, read.commune_code, read.commune_method) == (
        "roads",
        "24163",
        "classified",
    )
    unknown = classify("có vấn đề")
    assert (unknown.service_code, unknown.commune_code, unknown.commune_method) == (
        "other",
        None,
        "none",
    )
