"""Cells of a plan's lead and co-ordinating columns resolved into units, against a small list that
holds the names plans find hardest: names with "và" and commas, abbreviations with "&", units
named with and without "tỉnh", and communes whose names differ by a digit or an apostrophe."""

from __future__ import annotations

import unicodedata

import pytest

from vocabulary.unit_names import (
    Collective,
    Commune,
    Resolution,
    Unit,
    UnitDirectory,
    UnitKind,
    UnitNameError,
    normalize,
)

DEPARTMENT = UnitKind.DEPARTMENT
BODY = UnitKind.PROVINCIAL_BODY
PARTY = UnitKind.PARTY

UNITS = (
    Unit(
        "vp-ubnd",
        DEPARTMENT,
        "Văn phòng Ủy ban nhân dân tỉnh",
        ("Văn phòng UBND tỉnh", "VP UBND tỉnh", "VPUBND"),
    ),
    Unit("snv", DEPARTMENT, "Sở Nội vụ", ("SNV",)),
    Unit("stp", DEPARTMENT, "Sở Tư pháp", ("STP",)),
    Unit("stc", DEPARTMENT, "Sở Tài chính", ("STC",)),
    Unit("skhcn", DEPARTMENT, "Sở Khoa học và Công nghệ", ("Sở KH&CN", "SKHCN")),
    Unit("svhttdl", DEPARTMENT, "Sở Văn hóa, Thể thao và Du lịch", ("Sở VHTTDL",)),
    Unit("sgddt", DEPARTMENT, "Sở Giáo dục và Đào tạo", ("Sở GD&ĐT", "SGDĐT")),
    Unit("sdttg", DEPARTMENT, "Sở Dân tộc và Tôn giáo", ("Sở DTTG",)),
    Unit("thanh-tra", DEPARTMENT, "Thanh tra tỉnh"),
    Unit("bql-kkt", BODY, "Ban Quản lý Khu kinh tế tỉnh", ("BQL KKT",)),
    Unit(
        "vp-doan",
        BODY,
        "Văn phòng Đoàn đại biểu Quốc hội và Hội đồng nhân dân tỉnh",
        ("Văn phòng Đoàn ĐBQH và HĐND tỉnh",),
    ),
    Unit("cong-an", BODY, "Công an tỉnh"),
    Unit("vptu", PARTY, "Văn phòng Tỉnh ủy", ("VPTU",)),
    Unit("du-ubnd", PARTY, "Đảng ủy Ủy ban nhân dân tỉnh", ("Đảng ủy UBND tỉnh",)),
)
COMMUNES = (
    Commune("22306", "Xã Phú Hòa 2"),
    Commune("22319", "Xã Phú Hòa 1"),
    Commune("24133", "Phường Buôn Ma Thuột"),
    Commune("24169", "Phường Ea Kao"),
    Commune("24175", "Xã Hòa Phú"),
    Commune("24280", "Xã Cư M’gar"),
)

DEPARTMENTS = ("vp-ubnd", "snv", "stp", "stc", "skhcn", "svhttdl", "sgddt", "sdttg", "thanh-tra")
BODIES = ("bql-kkt", "vp-doan", "cong-an")
PARTY_BODIES = ("vptu", "du-ubnd")
ALL_COMMUNES = ("22306", "22319", "24133", "24169", "24175", "24280")

SETS = Collective.DEPARTMENTS_AND_BODIES
WARDS = Collective.COMMUNES
PROVINCIAL = Collective.PROVINCIAL_UNITS

CELLS = [
    # Abbreviations, "&" and "và" between units.
    ("Sở KH&CN, SNV và Sở Tài chính", ("skhcn", "snv", "stc"), (), ()),
    ("Sở KH & CN", ("skhcn",), (), ()),
    ("sở kh&cn; SKHCN", ("skhcn",), (), ()),
    ("SGDĐT và Sở GD&ĐT, sgddt", ("sgddt",), (), ()),
    ("Sở Tư pháp & Thanh tra tỉnh", ("stp", "thanh-tra"), (), ()),
    ("Sở Tư pháp VÀ Sở Nội vụ", ("stp", "snv"), (), ()),
    # Text pasted from some editors keeps its diacritics as separate marks.
    (unicodedata.normalize("NFD", "Sở Tư pháp và Sở Nội vụ"), ("stp", "snv"), (), ()),
    # Names that hold "và" and commas themselves.
    ("Sở Dân tộc và Tôn giáo và Sở Tư pháp", ("sdttg", "stp"), (), ()),
    ("Sở Văn hóa, Thể thao và Du lịch, Sở Nội vụ", ("svhttdl", "snv"), (), ()),
    ("Sở Khoa học và Công nghệ và Sở Giáo dục và Đào tạo", ("skhcn", "sgddt"), (), ()),
    ("Sở Văn hoá - Thể thao và Du lịch", ("svhttdl",), (), ()),
    ("Văn phòng Đoàn ĐBQH và HĐND tỉnh", ("vp-doan",), (), ()),
    ("Văn phòng Đoàn ĐBQH và Hội đồng nhân dân tỉnh", ("vp-doan",), (), ()),
    ("Sở Khoa học, Sở Nội vụ", ("snv",), ("Sở Khoa học",), ()),
    # Case, diacritics, "tỉnh", "UBND" for "Ủy ban nhân dân".
    ("so noi vu", ("snv",), (), ()),
    ("Sở Nội vụ tỉnh", ("snv",), (), ()),
    ("SỞ TÀI CHÍNH TỈNH ĐẮK LẮK", ("stc",), (), ()),
    ("Văn phòng UBND tỉnh", ("vp-ubnd",), (), ()),
    ("VP UBND tỉnh Đắk Lắk", ("vp-ubnd",), (), ()),
    ("Sở Tư pháp Daklak", ("stp",), (), ()),
    ("van phong uy ban nhan dan tinh", ("vp-ubnd",), (), ()),
    ("VPUBND; Đảng ủy UBND tỉnh", ("vp-ubnd", "du-ubnd"), (), ()),
    ("Công an", ("cong-an",), (), ()),
    ("Văn phòng Tỉnh ủy, VPTU", ("vptu",), (), ()),
    # Each unit once, in the order written.
    ("Sở Nội vụ; Sở Nội vụ tỉnh; SNV", ("snv",), (), ()),
    ("Ban Quản lý Khu kinh tế tỉnh, BQL KKT, Sở Tư pháp", ("bql-kkt", "stp"), (), ()),
    ("- Sở Tài chính\n- Sở Nội vụ", ("stc", "snv"), (), ()),
    ("Sở Nội vụ - Sở Tư pháp", ("snv", "stp"), (), ()),
    # Communes, by name and through their committee.
    ("Phường Ea Kao, Xã Cư M'gar", ("24169", "24280"), (), ()),
    ("UBND phường Buôn Ma Thuột", ("24133",), (), ()),
    ("Ủy ban nhân dân xã Hòa Phú và UBND xã Phú Hòa 1", ("24175", "22319"), (), ()),
    ("Xã Phú Hòa 2\nxa phu hoa 1", ("22306", "22319"), (), ()),
    # Collective names.
    (
        "Các sở, ban, ngành; UBND các xã, phường",
        DEPARTMENTS + BODIES + ALL_COMMUNES,
        (),
        (SETS, WARDS),
    ),
    ("cac so ban nganh", DEPARTMENTS + BODIES, (), (SETS,)),
    ("Các Sở, Ban, Ngành tỉnh", DEPARTMENTS + BODIES, (), (SETS,)),
    ("Các sở, ban, ngành của tỉnh", DEPARTMENTS + BODIES, (), (SETS,)),
    ("các xã, phường", ALL_COMMUNES, (), (WARDS,)),
    ("UBND xã phường", ALL_COMMUNES, (), (WARDS,)),
    ("Các cơ quan, đơn vị của tỉnh", DEPARTMENTS + BODIES + PARTY_BODIES, (), (PROVINCIAL,)),
    ("Các cơ quan, đơn vị thuộc tỉnh", DEPARTMENTS + BODIES + PARTY_BODIES, (), (PROVINCIAL,)),
    # Outside text splits where units would: at commas and "và".
    ("Các cơ quan, đơn vị", (), ("Các cơ quan", "đơn vị"), ()),
    (
        "Sở Tư pháp, Các sở, ban, ngành và UBND các xã, phường trên địa bàn tỉnh",
        ("stp", *(code for code in DEPARTMENTS if code != "stp"), *BODIES, *ALL_COMMUNES),
        (),
        (SETS, WARDS),
    ),
    # Partners outside the province's list, as written.
    ("Viettel Đắk Lắk, VNPT Đắk Lắk", (), ("Viettel Đắk Lắk", "VNPT Đắk Lắk"), ()),
    ("Viettel Đắk Lắk, viettel đắk lắk", (), ("Viettel Đắk Lắk",), ()),
    ("Các đơn vị liên quan", (), ("Các đơn vị liên quan",), ()),
    ("Sở Tài chính và các cơ quan liên quan.", ("stc",), ("các cơ quan liên quan",), ()),
    ("Hội Nông dân tỉnh và Sở Tài chính", ("stc",), ("Hội Nông dân tỉnh",), ()),
    ("UBND tỉnh", (), ("UBND tỉnh",), ()),
    # A known name counts only where a separator follows it: no guessing inside other names.
    ("Công an tỉnh, Công an xã Hòa Phú", ("cong-an",), ("Công an xã Hòa Phú",), ()),
    ("Sở Nội vụ Sở Tư pháp", (), ("Sở Nội vụ Sở Tư pháp",), ()),
    # Nothing written.
    ("", (), (), ()),
    ("  ;\n , và ", (), (), ()),
]


@pytest.fixture(scope="module")
def directory() -> UnitDirectory:
    return UnitDirectory(UNITS, COMMUNES)


@pytest.mark.parametrize(("cell", "units", "outside", "collectives"), CELLS)
def test_a_cell_resolves_to_the_units_it_names(directory, cell, units, outside, collectives):
    assert directory.resolve(cell) == Resolution(units, outside, collectives)


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("Sở Nội vụ tỉnh", "so noi vu"),
        ("Văn phòng Ủy ban nhân dân tỉnh", "van phong ubnd"),
        ("Văn phòng UBND tỉnh Đắk Lắk", "van phong ubnd"),
        ("Sở KH&CN", "so kh va cn"),
        ("Sở  Văn hoá -  Thể thao và Du lịch.", "so van hoa the thao va du lich"),
        ("Xã Cư M’gar", "xa cu mgar"),
        ("Ban Tổ chức Tỉnh ủy", "ban to chuc tinh uy"),
        ("Hội đồng nhân dân tỉnh", "hdnd"),
        ("Đoàn đại biểu Quốc hội tỉnh", "doan dbqh"),
        ("Công an tỉnh Daklak", "cong an"),
        ("Đắk Lắk", "dak lak"),
        ("tỉnh", "tinh"),
    ],
)
def test_normalize(written, normal):
    assert normalize(written) == normal


def test_an_abbreviation_of_two_units_is_refused_naming_both():
    units = (
        Unit("snv", DEPARTMENT, "Sở Nội vụ", ("SNV",)),
        Unit("sngv", DEPARTMENT, "Sở Ngoại vụ", ("snv",)),
    )
    with pytest.raises(UnitNameError) as refused:
        UnitDirectory(units, COMMUNES)
    assert str(refused.value) == (
        '"snv" is written for both Sở Nội vụ (snv) and Sở Ngoại vụ (sngv); '
        "keep it for one of them only"
    )


def test_a_name_written_like_another_units_name_is_refused():
    units = (*UNITS, Unit("ca", BODY, "Công an", ()))
    with pytest.raises(UnitNameError, match=r"Công an tỉnh \(cong-an\) and Công an \(ca\)"):
        UnitDirectory(units, COMMUNES)


def test_a_unit_named_like_a_collective_is_refused():
    units = (Unit("all", BODY, "Các sở ban ngành", ()),)
    with pytest.raises(UnitNameError, match=r'the collective "Các sở, ban, ngành" and Các sở'):
        UnitDirectory(units, COMMUNES)


def test_a_code_given_twice_is_refused():
    units = (Unit("24133", DEPARTMENT, "Sở Nội vụ", ()),)
    with pytest.raises(UnitNameError, match='"24133" is given twice'):
        UnitDirectory(units, COMMUNES)


def test_an_abbreviation_without_letters_is_refused():
    units = (Unit("snv", DEPARTMENT, "Sở Nội vụ", ("-",)),)
    with pytest.raises(UnitNameError, match="has no letters"):
        UnitDirectory(units, COMMUNES)


def test_a_unit_may_list_a_form_its_name_already_has():
    directory = UnitDirectory((UNITS[0],), ())
    assert directory.resolve("Văn phòng UBND tỉnh") == Resolution(("vp-ubnd",))


@pytest.mark.parametrize(
    ("cell", "units", "outside"),
    [
        ("Sở Dân tộc và Tôn giáo", ("sdttg",), ()),
        ("Sở Dân tộc và Sở Dân tộc và Tôn giáo", ("sdt", "sdttg"), ()),
        ("Sở Dân tộc và Tôn giáo tỉnh, Sở Dân tộc", ("sdttg", "sdt"), ()),
        ("Sở Dân tộc và Tín ngưỡng", ("sdt",), ("Tín ngưỡng",)),
    ],
)
def test_the_longest_known_name_wins_over_one_it_begins_with(cell, units, outside):
    directory = UnitDirectory(
        (
            Unit("sdt", DEPARTMENT, "Sở Dân tộc", ()),
            Unit("sdttg", DEPARTMENT, "Sở Dân tộc và Tôn giáo", ()),
        ),
        (),
    )
    assert directory.resolve(cell) == Resolution(units, outside)
