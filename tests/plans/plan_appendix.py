"""A provincial plan's appendix of tasks, as an office keeps it in a spreadsheet: the list of tasks
of a plan implementing Resolution 57-NQ/TW (science, technology, innovation and digital
transformation), laid out like the appendices Vietnamese provinces publish. A title above the
header, groups under Roman numerals, 66 tasks with a leader in charge, lead and co-ordinating
units written the many ways offices write them (full names, abbreviations, collectives, several
units joined by commas and "và", a cell merged over two rows, partners outside the province), a
product, a deadline in every form offices use and the level that issues the product.

The units are the 25 rows of the province's reference list (`units.csv`), copied here with codes
assigned so the suite runs without the shared data; the communes are the province's 102 from the
product's reference data."""

# The tasks are a table, one task a line, as the office's sheet has them.
# ruff: noqa: E501

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Font

from db.communes import communes_of_province
from vocabulary.unit_names import Commune, Unit, UnitDirectory, UnitKind

DEPARTMENT = UnitKind.DEPARTMENT
BODY = UnitKind.PROVINCIAL_BODY
PARTY = UnitKind.PARTY

# The rows of units.csv, in its order, with the codes this suite gives them.
UNITS = (
    Unit(
        "VPUBND",
        DEPARTMENT,
        "Văn phòng Ủy ban nhân dân tỉnh",
        ("Văn phòng UBND tỉnh", "VP UBND tỉnh", "VPUBND"),
    ),
    Unit("SNV", DEPARTMENT, "Sở Nội vụ", ("SNV",)),
    Unit("STP", DEPARTMENT, "Sở Tư pháp", ("STP",)),
    Unit("STC", DEPARTMENT, "Sở Tài chính", ("STC",)),
    Unit("SCT", DEPARTMENT, "Sở Công Thương", ("SCT",)),
    Unit("SNNMT", DEPARTMENT, "Sở Nông nghiệp và Môi trường", ("Sở NN&MT", "Sở NNMT")),
    Unit("SXD", DEPARTMENT, "Sở Xây dựng", ("SXD",)),
    Unit("SKHCN", DEPARTMENT, "Sở Khoa học và Công nghệ", ("Sở KH&CN", "SKHCN")),
    Unit("SVHTTDL", DEPARTMENT, "Sở Văn hóa, Thể thao và Du lịch", ("Sở VHTTDL",)),
    Unit("SGDDT", DEPARTMENT, "Sở Giáo dục và Đào tạo", ("Sở GD&ĐT", "SGDĐT")),
    Unit("SYT", DEPARTMENT, "Sở Y tế", ("SYT",)),
    Unit("TTT", DEPARTMENT, "Thanh tra tỉnh"),
    Unit("SDTTG", DEPARTMENT, "Sở Dân tộc và Tôn giáo", ("Sở DTTG",)),
    Unit("BQLKKT", BODY, "Ban Quản lý Khu kinh tế tỉnh", ("BQL KKT",)),
    Unit(
        "VPDDBQH",
        BODY,
        "Văn phòng Đoàn đại biểu Quốc hội và Hội đồng nhân dân tỉnh",
        ("Văn phòng Đoàn ĐBQH và HĐND tỉnh",),
    ),
    Unit("CAT", BODY, "Công an tỉnh"),
    Unit("BCHQS", BODY, "Bộ Chỉ huy Quân sự tỉnh"),
    Unit("TKT", BODY, "Thống kê tỉnh"),
    Unit("UBMTTQ", BODY, "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", ("UBMTTQ tỉnh",)),
    Unit("VPTU", PARTY, "Văn phòng Tỉnh ủy", ("VPTU",)),
    Unit("BTCTU", PARTY, "Ban Tổ chức Tỉnh ủy", ("BTCTU",)),
    Unit("BTGDVTU", PARTY, "Ban Tuyên giáo và Dân vận Tỉnh ủy"),
    Unit("BNCTU", PARTY, "Ban Nội chính Tỉnh ủy"),
    Unit("UBKTTU", PARTY, "Ủy ban Kiểm tra Tỉnh ủy", ("UBKT Tỉnh ủy",)),
    Unit("DUUBND", PARTY, "Đảng ủy Ủy ban nhân dân tỉnh", ("Đảng ủy UBND tỉnh",)),
)
COMMUNES = tuple(Commune(c.code, c.name) for c in communes_of_province())
DEPARTMENTS_AND_BODIES = tuple(u.code for u in UNITS if u.kind is not PARTY)
ALL_UNITS = tuple(u.code for u in UNITS)
ALL_COMMUNES = tuple(c.code for c in COMMUNES)


def directory() -> UnitDirectory:
    return UnitDirectory(UNITS, COMMUNES)


@dataclass(frozen=True)
class AppendixTask:
    """One task's cells as the office typed them; a code or deadline typed as a number or a date
    is kept as one, as a spreadsheet stores it."""

    code: int | float | str
    title: str
    leader: str
    lead: str
    co: str
    product: str
    due: str | date
    authority: str
    source: str
    status: str = ""


@dataclass(frozen=True)
class AppendixGroup:
    numeral: str
    title: str
    tasks: tuple[AppendixTask, ...]
    # The numeral and the title in one cell merged across the row ("V. XÃ HỘI SỐ"), rather than
    # the numeral under STT and the title merged across the other columns.
    heading_in_one_cell: bool = False


CHAIR = "Chủ tịch UBND tỉnh"
STANDING_VICE = "Phó Chủ tịch Thường trực UBND tỉnh"
ECONOMY_VICE = "Phó Chủ tịch UBND tỉnh phụ trách kinh tế"
SOCIETY_VICE = "Phó Chủ tịch UBND tỉnh phụ trách văn hóa - xã hội"
SECRETARY = "Bí thư Tỉnh ủy, Trưởng Ban Chỉ đạo"
DEPUTY_SECRETARY = "Phó Bí thư Thường trực Tỉnh ủy"

R57 = "Nghị quyết số 57-NQ/TW"
R71 = "Nghị quyết số 71/NQ-CP"
KH01 = "Kế hoạch số 01-KH/BCĐTW"
D06 = "Quyết định số 06/QĐ-TTg (Đề án 06)"
DATA_LAW = "Luật Dữ liệu năm 2024"

PROVINCE = "UBND tỉnh"
COUNCIL = "HĐND tỉnh"
PARTY_COMMITTEE = "Tỉnh ủy"
STANDING_BOARD = "Ban Thường vụ Tỉnh ủy"
CHAIR_DECIDES = "Chủ tịch UBND tỉnh"

T = AppendixTask

GROUPS = (
    AppendixGroup(
        "I",
        "HOÀN THIỆN THỂ CHẾ",
        (
            T(1, "Xây dựng Nghị quyết quy định chính sách hỗ trợ hoạt động khoa học, công nghệ và đổi mới sáng tạo trên địa bàn tỉnh", ECONOMY_VICE, "Sở Khoa học và Công nghệ", "Sở Tài chính, Sở Tư pháp", "Nghị quyết của HĐND tỉnh", "Quý II/2026", COUNCIL, R57),
            T(2, "Rà soát, đề xuất sửa đổi, bổ sung các văn bản quy phạm pháp luật của tỉnh không còn phù hợp với yêu cầu chuyển đổi số", STANDING_VICE, "Sở Tư pháp", "Các sở, ban, ngành", "Báo cáo rà soát", "Tháng 5/2026", PROVINCE, R71),
            T(3, "Ban hành quy chế quản lý nhiệm vụ khoa học và công nghệ cấp tỉnh theo cơ chế khoán chi đến sản phẩm cuối cùng", ECONOMY_VICE, "Sở KH&CN", "STC", "Quyết định ban hành quy chế", "30/6/2026", PROVINCE, R57),
            T(4, "Xây dựng cơ chế thử nghiệm có kiểm soát cho các mô hình kinh doanh mới dựa trên công nghệ số", ECONOMY_VICE, "Sở Khoa học và Công nghệ và Sở Công Thương", "Sở Tư pháp", "Đề án", "Năm 2027", COUNCIL, R71),
            T(5, "Ban hành quy định phân cấp, ủy quyền giải quyết thủ tục hành chính trên môi trường điện tử", STANDING_VICE, "Văn phòng UBND tỉnh", "SNV, STP", "Quyết định ban hành quy định", "Quý III/2026", PROVINCE, R71),
            T(6, "Ban hành danh mục dữ liệu mở của tỉnh", ECONOMY_VICE, "Sở KH&CN", "Các cơ quan, đơn vị của tỉnh", "Quyết định ban hành danh mục", "Tháng 09/2026", CHAIR_DECIDES, DATA_LAW),
            T(7.0, "Sửa đổi quy chế làm việc của Ban Chỉ đạo tỉnh về phát triển khoa học, công nghệ, đổi mới sáng tạo và chuyển đổi số", SECRETARY, "Văn phòng Tỉnh ủy", "Sở Khoa học và Công nghệ", "Quy chế làm việc", "Tháng 4/2026", PARTY_COMMITTEE, KH01),
            T(8.0, "Hướng dẫn cơ chế đặt hàng nhiệm vụ khoa học và công nghệ với doanh nghiệp", ECONOMY_VICE, "SKHCN", "Sở Tài chính và Ban Quản lý Khu kinh tế tỉnh", "Văn bản hướng dẫn", "6 tháng cuối năm 2026", PROVINCE, R71),
            T(9, "Thanh tra, kiểm tra việc thực hiện các quy định về chuyển đổi số trong cơ quan nhà nước", STANDING_VICE, "Thanh tra tỉnh", "Sở Nội vụ", "Kết luận thanh tra", "Hằng năm", PROVINCE, R71),
            T(10, "Theo dõi tình hình thi hành pháp luật về khoa học, công nghệ và đổi mới sáng tạo", STANDING_VICE, "STP", "các đơn vị liên quan", "Báo cáo", "Định kỳ 6 tháng", PROVINCE, R71),
            T(11, "Quán triệt, tuyên truyền Nghị quyết số 57-NQ/TW trong toàn Đảng bộ và Nhân dân tỉnh", DEPUTY_SECRETARY, "Ban Tuyên giáo và Dân vận Tỉnh ủy", "Đảng ủy UBND tỉnh, UBMTTQ tỉnh", "Kế hoạch tuyên truyền", "Tháng 3/2026", STANDING_BOARD, R57),
        ),
    ),
    AppendixGroup(
        "II",
        "HẠ TẦNG SỐ",
        (
            T(12, "Nâng cấp Trung tâm dữ liệu tỉnh đáp ứng yêu cầu lưu trữ, xử lý dữ liệu dùng chung", ECONOMY_VICE, "Sở Khoa học và Công nghệ", "Viettel Đắk Lắk, VNPT Đắk Lắk", "Trung tâm dữ liệu được nâng cấp", "Quý IV/2026", PROVINCE, R57),
            T(13, "Phủ sóng di động 4G, 5G đến 100% thôn, buôn, tổ dân phố", ECONOMY_VICE, "Sở KH&CN", "Viettel Đắk Lắk; VNPT Đắk Lắk; MobiFone Đắk Lắk", "Báo cáo kết quả phủ sóng", "2026-2027", PROVINCE, KH01),
            T(14, "Kết nối mạng truyền số liệu chuyên dùng đến 100% xã, phường", ECONOMY_VICE, "Sở KH&CN", "UBND các xã, phường, VNPT Đắk Lắk", "Hạ tầng mạng truyền số liệu", "Tháng 6/2026", PROVINCE, R71),
            T(15, "Nâng cấp nền tảng tích hợp, chia sẻ dữ liệu cấp tỉnh (LGSP) kết nối với nền tảng quốc gia", ECONOMY_VICE, "Sở Khoa học và Công nghệ tỉnh Đắk Lắk", "Văn phòng UBND tỉnh", "Nền tảng số", "Quý 3/2026", PROVINCE, DATA_LAW),
            T(16, "Bảo đảm an toàn thông tin mạng theo mô hình 4 lớp cho các hệ thống thông tin của tỉnh", STANDING_VICE, "Công an tỉnh", "Sở KH&CN, Bộ Chỉ huy Quân sự tỉnh", "Báo cáo đánh giá an toàn thông tin", "Thường xuyên", PROVINCE, R57),
            T(17, "Xây dựng Trung tâm giám sát, điều hành thông minh (IOC) của tỉnh", CHAIR, "VP UBND tỉnh", "Sở Khoa học và Công nghệ", "Hệ thống IOC", "Năm 2027", PROVINCE, R71),
            T(18, "Đầu tư hạ tầng số tại Khu kinh tế và các khu công nghiệp", ECONOMY_VICE, "BQL KKT", "Sở Công Thương, Viettel Đắk Lắk", "Đề án", "2027-2028", PROVINCE, R71),
            T(19, "Chuyển đổi IPv6 cho hệ thống thông tin của các cơ quan nhà nước", ECONOMY_VICE, "SKHCN", "Các sở, ban, ngành", "Báo cáo kết quả", date(2026, 12, 31), PROVINCE, R71),
            T(20, "Rà soát quy hoạch hạ tầng kỹ thuật viễn thông thụ động", ECONOMY_VICE, "Sở Xây dựng", "Sở Khoa học và Công nghệ", "Quyết định phê duyệt", "Quý II/2026", PROVINCE, R71),
            T(21, "Lồng ghép hạ tầng viễn thông vào các dự án giao thông, đô thị", ECONOMY_VICE, "Sở Xây dựng", "UBND các xã, phường", "Văn bản hướng dẫn", "Thường xuyên, đến năm 2030", PROVINCE, R71),
            T(22, "Lắp đặt camera giám sát an ninh, trật tự kết nối với Trung tâm IOC", STANDING_VICE, "Công an tỉnh", "UBND phường Buôn Ma Thuột, UBND phường Tân An, UBND phường Ea Kao", "Hệ thống camera giám sát", "Quý II/2026 và Quý IV/2026", PROVINCE, D06),
        ),
    ),
    AppendixGroup(
        "III",
        "CHUYỂN ĐỔI SỐ TRONG CƠ QUAN NHÀ NƯỚC",
        (
            T(23, "Xây dựng cơ sở dữ liệu cán bộ, công chức, viên chức của tỉnh kết nối với cơ sở dữ liệu quốc gia", STANDING_VICE, "SNV", "Các cơ quan, đơn vị của tỉnh", "Cơ sở dữ liệu", "Tháng 8/2026", PROVINCE, DATA_LAW),
            T(24, "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính còn hiệu lực", STANDING_VICE, "VPUBND", "Các sở, ban, ngành; UBND các xã, phường", "Dữ liệu số hóa", "Năm 2026 và hằng năm đến 2030", PROVINCE, D06),
            T(25, "Cung cấp dịch vụ công trực tuyến toàn trình cho 100% thủ tục hành chính đủ điều kiện", STANDING_VICE, "Văn phòng Ủy ban nhân dân tỉnh", "Các sở, ban, ngành", "Báo cáo kết quả", "Quý IV/2026", PROVINCE, R71),
            T(26, "Triển khai hệ thống quản lý văn bản và điều hành liên thông từ tỉnh đến xã", STANDING_VICE, "Sở Khoa học và Công nghệ", "Văn phòng Tỉnh ủy, Văn phòng UBND tỉnh", "Hệ thống thông tin", "Tháng 07/2026", PROVINCE, R71),
            T(27, "Xây dựng, cập nhật cơ sở dữ liệu đất đai của tỉnh", ECONOMY_VICE, "Sở Nông nghiệp và Môi trường", "UBND các xã, phường", "Cơ sở dữ liệu", "2026-2027", PROVINCE, DATA_LAW),
            T(28, "Cấp chữ ký số cho 100% cán bộ, công chức, viên chức", STANDING_VICE, "- Sở Nội vụ\n- Văn phòng Tỉnh ủy", "Sở KH&CN", "Báo cáo kết quả", "Tháng 05/2026", PROVINCE, R71),
            T(29, "Xây dựng kho dữ liệu dùng chung và hệ thống thông tin báo cáo của tỉnh", ECONOMY_VICE, "Thống kê tỉnh", "Sở Tài chính và Sở Khoa học và Công nghệ", "Hệ thống thông tin báo cáo", "Quý I/2027", PROVINCE, DATA_LAW),
            T(30, "Số hóa hồ sơ, tài liệu lưu trữ của Đảng bộ tỉnh", DEPUTY_SECRETARY, "Văn phòng Tỉnh ủy", "Ban Tổ chức Tỉnh ủy", "Cơ sở dữ liệu", "Năm 2027", PARTY_COMMITTEE, KH01),
            T(31, "Hoàn thiện cơ sở dữ liệu đảng viên", DEPUTY_SECRETARY, "BTCTU", "VPTU", "Cơ sở dữ liệu", "Quý III/2026", PARTY_COMMITTEE, KH01),
            T(32, "Ứng dụng công nghệ số trong công tác kiểm tra, giám sát của Đảng", DEPUTY_SECRETARY, "UBKT Tỉnh ủy", "Ban Nội chính Tỉnh ủy", "Phần mềm kiểm tra, giám sát", "Năm 2026", PARTY_COMMITTEE, KH01),
            T(33, "Triển khai phòng họp không giấy và hội nghị truyền hình trực tuyến đến cấp xã", STANDING_VICE, "Văn phòng Đoàn ĐBQH và HĐND tỉnh, Văn phòng UBND tỉnh", "UBND các xã, phường", "Hệ thống phòng họp không giấy", "Tháng 10/2026", PROVINCE, R71),
        ),
    ),
    AppendixGroup(
        "IV",
        "KINH TẾ SỐ",
        (
            T(34, "Xây dựng Đề án phát triển kinh tế số tỉnh đến năm 2030", ECONOMY_VICE, "Sở Công Thương", "Sở Tài chính, Sở KH&CN, Thống kê tỉnh", "Đề án", "Quý II/2026", PROVINCE, R57),
            T(35, "Đưa sản phẩm OCOP và nông sản chủ lực của tỉnh lên sàn thương mại điện tử", ECONOMY_VICE, "SCT", "Sở NN&MT, UBND các xã, phường", "Báo cáo kết quả", "Hằng năm", PROVINCE, R71),
            T(36, "Xây dựng hệ thống truy xuất nguồn gốc nông sản chủ lực", ECONOMY_VICE, "Sở Nông nghiệp và Môi trường", "Sở KH&CN", "Hệ thống thông tin", "Tháng 11/2026", PROVINCE, R71),
            T(37, "Hỗ trợ doanh nghiệp nhỏ và vừa chuyển đổi số", ECONOMY_VICE, "Sở Tài chính", "Hiệp hội Doanh nghiệp tỉnh", "Chương trình hỗ trợ", "2026-2030", PROVINCE, R71),
            T(38, "Phát triển du lịch thông minh, số hóa các điểm di tích, danh thắng", SOCIETY_VICE, "Sở Văn hóa, Thể thao và Du lịch", "Sở KH&CN", "Nền tảng du lịch thông minh", "Năm 2027", PROVINCE, R71),
            T(39, "Thúc đẩy thanh toán không dùng tiền mặt trong dịch vụ công và thu phí", ECONOMY_VICE, "Sở Tài chính", "Các tổ chức tín dụng trên địa bàn", "Báo cáo kết quả", "Định kỳ hằng quý", PROVINCE, R71),
            T(40, "Thành lập Trung tâm Đổi mới sáng tạo của tỉnh", ECONOMY_VICE, "Sở KH&CN", "Sở Nội vụ, Sở Tài chính, Trường Đại học Tây Nguyên", "Quyết định thành lập", "Tháng 12/2026", PROVINCE, R57),
            T(41, "Phát triển hệ sinh thái khởi nghiệp đổi mới sáng tạo", ECONOMY_VICE, "Sở Khoa học và Công nghệ", "Sở GD&ĐT, Trường Đại học Tây Nguyên", "Kế hoạch", "Hằng năm", PROVINCE, R57),
            T(42, "Triển khai hóa đơn điện tử và chuyển đổi số trong quản lý thuế", ECONOMY_VICE, "Sở Tài chính", "Thuế tỉnh Đắk Lắk", "Báo cáo kết quả", "Thường xuyên", PROVINCE, R71),
            T(43, "Đo lường tỷ trọng kinh tế số trong GRDP của tỉnh", ECONOMY_VICE, "Thống kê tỉnh", "Sở Công Thương, Sở Tài chính", "Báo cáo thống kê", "Hằng năm đến 2030", PROVINCE, R57),
            T(44, "Ứng dụng công nghệ số trong sản xuất nông nghiệp", ECONOMY_VICE, "Sở NN&MT", "UBND các xã, phường", "Mô hình nông nghiệp số", "2026-2028", PROVINCE, R71),
        ),
    ),
    AppendixGroup(
        "V",
        "XÃ HỘI SỐ",
        (
            T(45, "Triển khai bệnh án điện tử tại các bệnh viện trên địa bàn tỉnh", SOCIETY_VICE, "Sở Y tế", "Bảo hiểm xã hội tỉnh", "Hệ thống bệnh án điện tử", datetime(2026, 9, 30), PROVINCE, D06),
            T(46, "Triển khai học bạ số, sổ điểm điện tử trong các cơ sở giáo dục", SOCIETY_VICE, "Sở Giáo dục và Đào tạo", "UBND các xã, phường", "Cơ sở dữ liệu ngành giáo dục", "Tháng 8/2026", PROVINCE, R71),
            T(47, "Triển khai Đề án 06 về dữ liệu dân cư, định danh và xác thực điện tử", STANDING_VICE, "Công an tỉnh", "Các sở, ban, ngành, UBND các xã, phường", "Báo cáo kết quả", "Định kỳ hằng tháng", PROVINCE, D06),
            T(48, "Thành lập và duy trì tổ công nghệ số cộng đồng tại thôn, buôn, tổ dân phố", SOCIETY_VICE, "UBND các xã, phường", "Sở KH&CN, Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", "Quyết định thành lập", "Quý II/2026", PROVINCE, R71),
            T(49, "Phổ cập kỹ năng số cho Nhân dân theo phong trào Bình dân học vụ số", SOCIETY_VICE, "Sở Khoa học và Công nghệ", "Sở GD&ĐT, UBMTTQ tỉnh, UBND các xã, phường", "Kế hoạch", "Hằng năm", PROVINCE, KH01),
            T(50, "Số hóa di sản văn hóa các dân tộc và không gian văn hóa cồng chiêng Tây Nguyên", SOCIETY_VICE, "Sở VHTTDL", "Sở Dân tộc và Tôn giáo", "Cơ sở dữ liệu di sản", "2027-2028", PROVINCE, R71),
            T(51, "Tuyên truyền về chuyển đổi số bằng tiếng dân tộc thiểu số", SOCIETY_VICE, "Sở Dân tộc và Tôn giáo", "Sở VHTTDL, Báo Đắk Lắk", "Chuyên trang, chuyên mục", "Thường xuyên", PROVINCE, R57),
            T(52, "Vận hành nền tảng tiếp nhận phản ánh, kiến nghị của người dân và doanh nghiệp", STANDING_VICE, "VPUBND", "Công an tỉnh; UBND các xã, phường", "Nền tảng số", "Tháng 6/2026", PROVINCE, R71),
            T(53, "Xây dựng mô hình xã, phường chuyển đổi số điểm", SOCIETY_VICE, "UBND phường Buôn Ma Thuột, Xã Krông Pắc", "Sở Khoa học và Công nghệ", "Mô hình điểm", "Tháng 01 và tháng 12/2026", PROVINCE, R71),
            T(54, "Giám sát việc thực hiện chuyển đổi số tại cơ quan, địa phương", DEPUTY_SECRETARY, "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh", "Các cơ quan, đơn vị của tỉnh", "Báo cáo giám sát", "Định kỳ 6 tháng", PARTY_COMMITTEE, R57),
            T(55, "Chi trả trợ cấp xã hội không dùng tiền mặt", SOCIETY_VICE, "sở nội vụ", "Sở Tài chính, Bưu điện tỉnh Đắk Lắk", "Báo cáo kết quả", "Quý IV năm 2026", PROVINCE, D06),
        ),
        heading_in_one_cell=True,
    ),
    AppendixGroup(
        "VI",
        "NGUỒN NHÂN LỰC",
        (
            T(56, "Ban hành chính sách thu hút, trọng dụng chuyên gia, nhà khoa học", STANDING_VICE, "Sở Nội vụ", "Sở KH&CN, Sở Tài chính", "Nghị quyết của HĐND tỉnh", "Quý III/2026", COUNCIL, R57),
            T(57, "Bồi dưỡng kỹ năng số cho cán bộ, công chức cấp xã", STANDING_VICE, "SNV", "UBND các xã, phường", "Kế hoạch bồi dưỡng", "Hằng năm", PROVINCE, R71),
            T(58, "Phát triển giáo dục STEM và tin học trong các trường phổ thông", SOCIETY_VICE, "Sở GD&ĐT", "Trường Đại học Tây Nguyên", "Kế hoạch", "2026-2030", PROVINCE, R57),
            T(59, "Bố trí công chức phụ trách chuyển đổi số tại các cơ quan, đơn vị và xã, phường", STANDING_VICE, "Sở Nội vụ", "Các cơ quan, đơn vị của tỉnh, UBND các xã, phường", "Quyết định", "Tháng 5/2026", PROVINCE, R71),
            T(60, "Bồi dưỡng kiến thức về khoa học, công nghệ, chuyển đổi số cho cán bộ lãnh đạo, quản lý", DEPUTY_SECRETARY, "Ban Tổ chức Tỉnh ủy", "Trường Chính trị tỉnh", "Kế hoạch bồi dưỡng", "Hằng năm", PARTY_COMMITTEE, KH01),
            T(61, "Đào tạo nhân lực bảo đảm an toàn, an ninh mạng", STANDING_VICE, "Công an tỉnh và Bộ Chỉ huy Quân sự tỉnh", "Sở KH&CN", "Báo cáo kết quả", "Năm 2026 và hằng năm đến 2030", PROVINCE, R57),
            T(62, "Xây dựng cơ sở dữ liệu chuyên gia, nhà khoa học của tỉnh", ECONOMY_VICE, "SKHCN", "SNV", "Cơ sở dữ liệu", "6 tháng đầu năm 2027", PROVINCE, DATA_LAW),
            T(63, "Đào tạo nghề gắn với chuyển đổi số cho thanh niên dân tộc thiểu số", SOCIETY_VICE, "Sở Dân tộc và Tôn giáo và Sở Giáo dục và Đào tạo", "Tỉnh Đoàn Đắk Lắk", "Kế hoạch đào tạo", "Định kỳ hằng năm", PROVINCE, R71),
            T(64, "Sơ kết, đánh giá kết quả thực hiện Kế hoạch", CHAIR, "Sở Khoa học và Công nghệ", "Các sở, ban, ngành; UBND các xã, phường", "Báo cáo sơ kết", "Tháng 12/2027", PROVINCE, R57),
            T(65, "Tổng kết việc thực hiện Nghị quyết số 57-NQ/TW trên địa bàn tỉnh", SECRETARY, "Đảng ủy UBND tỉnh", "Văn phòng Tỉnh ủy", "Báo cáo tổng kết", "Quý IV/2030", PARTY_COMMITTEE, R57),
            T(66, "Khen thưởng tập thể, cá nhân có thành tích trong phát triển khoa học, công nghệ và chuyển đổi số", CHAIR, "Sở Nội vụ", "Các sở, ban, ngành", "Quyết định khen thưởng", "Hằng năm", CHAIR_DECIDES, R57),
        ),
    ),
)  # fmt: skip

TASK_COUNT = sum(len(g.tasks) for g in GROUPS)
# The lead cell of this task is merged with the one above it, as offices do when one unit leads
# consecutive tasks: the file holds the name once.
MERGED_LEAD_WITH_ABOVE = frozenset({21})

TITLE_ROWS = (
    "PHỤ LỤC",
    "DANH MỤC NHIỆM VỤ TRIỂN KHAI NGHỊ QUYẾT SỐ 57-NQ/TW NGÀY 22/12/2024 CỦA BỘ CHÍNH TRỊ VỀ ĐỘT "
    "PHÁ PHÁT TRIỂN KHOA HỌC, CÔNG NGHỆ, ĐỔI MỚI SÁNG TẠO VÀ CHUYỂN ĐỔI SỐ QUỐC GIA",
    "(Kèm theo Kế hoạch số    /KH-UBND ngày    /    /2026 của Ủy ban nhân dân tỉnh Đắk Lắk)",
    "",
)
HEADER = (
    "STT",
    "Nội dung nhiệm vụ",
    "Lãnh đạo phụ trách",
    "Cơ quan chủ trì",
    "Cơ quan phối hợp",
    "Sản phẩm",
    "Thời gian hoàn thành",
    "Cấp ban hành",
    "Căn cứ",
)
HEADER_ROW = len(TITLE_ROWS) + 1
STATUS_HEADER = "Tình trạng"


def task_row(code: int) -> int:
    """The spreadsheet row of task `code`: under the header, one heading row per group."""
    row = HEADER_ROW
    for group in GROUPS:
        row += 1
        for task in group.tasks:
            row += 1
            if int(task.code) == code:
                return row
    raise KeyError(code)


def tasks() -> tuple[AppendixTask, ...]:
    return tuple(task for group in GROUPS for task in group.tasks)


def build_xlsx(groups: Iterable[AppendixGroup], with_status: bool = False) -> bytes:
    """The appendix as an office's .xlsx: the title rows merged across the table, the header,
    each group's heading row, then its tasks."""
    header = (*HEADER, STATUS_HEADER) if with_status else HEADER
    last_column = len(header)
    book = Workbook()
    sheet = book.create_sheet("Phụ lục")
    book.remove(book.worksheets[0])
    for number, text in enumerate(TITLE_ROWS, start=1):
        sheet.cell(number, 1, text or None).font = Font(bold=True)
        if text:
            sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=9)
    for column, text in enumerate(header, start=1):
        sheet.cell(HEADER_ROW, column, text).font = Font(bold=True)
    row = HEADER_ROW
    for group in groups:
        row += 1
        if group.heading_in_one_cell:
            sheet.cell(row, 1, f"{group.numeral}. {group.title}")
            sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last_column)
        else:
            sheet.cell(row, 1, group.numeral)
            sheet.cell(row, 2, group.title)
            sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=last_column)
        for task in group.tasks:
            row += 1
            cells = (
                task.code,
                task.title,
                task.leader,
                task.lead,
                task.co,
                task.product,
                task.due,
                task.authority,
                task.source,
            )
            for column, value in enumerate(cells, start=1):
                sheet.cell(row, column, value if value != "" else None)
            if with_status and task.status:
                sheet.cell(row, len(header), task.status)
            if int(task.code) in MERGED_LEAD_WITH_ABOVE:
                sheet.merge_cells(start_row=row - 1, start_column=4, end_row=row, end_column=4)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def appendix_xlsx() -> bytes:
    return build_xlsx(GROUPS)


# The broken appendix: these tasks changed, each to one (task 25: two) known error, and a status
# column whose every other entry is one of the three statuses, written as offices might.
BROKEN: Mapping[int, Mapping[str, str]] = {
    3: {"title": ""},
    5: {"lead": ""},
    12: {"lead": "Viettel Đắk Lắk, VNPT Đắk Lắk"},
    20: {"due": "Cuối năm 2026"},
    25: {"product": "", "due": "Quý V/2026"},
    40: {"code": "39"},
    50: {"status": "Tạm dừng"},
}
STATUSES = ("Hoàn thành", "đang thực hiện", "CHUA TRIEN KHAI")


def broken_appendix_xlsx() -> bytes:
    groups = []
    index = 0
    for group in GROUPS:
        changed = []
        for task in group.tasks:
            status = STATUSES[index % len(STATUSES)]
            index += 1
            changes = {"status": status, **BROKEN.get(int(task.code), {})}
            changed.append(replace(task, **changes))
        groups.append(replace(group, tasks=tuple(changed)))
    return build_xlsx(groups, with_status=True)


# Every outside partner the appendix names, once each, in the order first met.
OUTSIDE_PARTNERS = (
    "các đơn vị liên quan",
    "Viettel Đắk Lắk",
    "VNPT Đắk Lắk",
    "MobiFone Đắk Lắk",
    "Hiệp hội Doanh nghiệp tỉnh",
    "Các tổ chức tín dụng trên địa bàn",
    "Trường Đại học Tây Nguyên",
    "Thuế tỉnh Đắk Lắk",
    "Bảo hiểm xã hội tỉnh",
    "Báo Đắk Lắk",
    "Bưu điện tỉnh Đắk Lắk",
    "Trường Chính trị tỉnh",
    "Tỉnh Đoàn Đắk Lắk",
)
