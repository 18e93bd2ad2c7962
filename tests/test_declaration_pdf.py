"""The declaration PDF opens, and its text (extracted with pypdf) is the citizen's own, with
every Vietnamese diacritic intact."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from bot.declaration_pdf import agency_info, declaration_filename, render_declaration_pdf
from bot.flows.agencies import load_directory
from bot.flows.places import catalogue
from bot.i18n import Translator

TRANSLATOR = Translator()
SUBMITTED = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)  # 00:30 on the 24th in Vietnam
RECEIPT = "00001.GD/2026/03102"


def nfc(text: str) -> str:
    """Composed, with line breaks and runs of spaces as single spaces (wrapped lines)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def gia_vien() -> tuple[str, str]:
    places = catalogue()
    [province] = [p for p in places.provinces() if p.short_name == "Hải Phòng"]
    [commune] = [c for c in places.communes(province.code) if c.name == "Phường Gia Viên"]
    return province.code, commune.code


def declaration(**changes: Any) -> dict[str, Any]:
    province_code, commune_code = gia_vien()
    data: dict[str, Any] = {
        "full_name": "Nguyễn Văn An",
        "bhxh_code": "0312345678",
        "id_number": "001099012345",
        "id_type": "cccd",
        "province_code": province_code,
        "commune_code": commune_code,
        "street": "Số 5 Lạch Tray",
        "phone": "+84983847986",
        "email": "an.nguyen@example.com",
        "wants_email": True,
        "agency_code": "03102",
        "locale": "vi",
    }
    data.update(changes)
    return data


def render(lang: str = "vi", **changes: Any) -> tuple[bytes, PdfReader, str]:
    agency = agency_info(load_directory().by_code("03102"))
    pdf = render_declaration_pdf(
        declaration(**changes), RECEIPT, agency, SUBMITTED, lang, TRANSLATOR
    )
    reader = PdfReader(io.BytesIO(pdf))
    text = nfc("\n".join(page.extract_text() for page in reader.pages))
    return pdf, reader, text


def test_the_pdf_opens_and_shows_the_declaration_in_vietnamese() -> None:
    pdf, reader, text = render()
    assert pdf.startswith(b"%PDF-")
    assert len(reader.pages) == 1
    for expected in (
        "Nguyễn Văn An",
        "Phường Gia Viên",
        "Số 5 Lạch Tray, Phường Gia Viên, Thành phố Hải Phòng",
        "0312345678",
        "001099012345",  # in full: it is the citizen's own document
        "0983 847 986",
        "an.nguyen@example.com",
        "BHXH Quận Ngô Quyền (03102)",
        RECEIPT,
        "TỜ KHAI ĐĂNG KÝ SỬ DỤNG PHƯƠNG THỨC GIAO DỊCH ĐIỆN TỬ",
        "Nghị định số 166/2016/NĐ-CP",
        "từ ngày 24 tháng 11 năm 2026",  # the date in Vietnam, not in UTC
        "Cổng thông tin điện tử BHXH Việt Nam",
        "Nhận tờ khai qua email: Có",
        "cam kết chịu trách nhiệm",
        "00:30 ngày 24/11/2026",
    ):
        assert nfc(expected) in text, expected


def test_the_font_is_the_bundled_unicode_font_embedded() -> None:
    _, reader, _ = render()
    fonts = reader.pages[0]["/Resources"]["/Font"]
    names = {str(fonts[key].get_object()["/BaseFont"]) for key in fonts}
    assert names and all("DejaVu" in name for name in names), names
    for key in fonts:
        font = fonts[key].get_object()
        if "/DescendantFonts" in font:  # a composite (Type0) font
            font = font["/DescendantFonts"][0].get_object()
        assert "/FontFile2" in font["/FontDescriptor"]  # embedded, not referenced
        assert "/ToUnicode" in fonts[key].get_object()  # the text can be extracted


def test_decomposed_input_comes_out_composed() -> None:
    _, _, text = render(full_name=unicodedata.normalize("NFD", "Trần Thị Ngọc Ánh"))
    assert "Trần Thị Ngọc Ánh" in text


def test_english_labels_with_the_vietnamese_answers() -> None:
    _, _, text = render("en", wants_email=False)
    assert "Social insurance code (BHXH)" in text
    assert "Receive the declaration by e-mail: No" in text
    assert "Nguyễn Văn An" in text and "Phường Gia Viên" in text
    assert "from 24/11/2026" in text


def test_without_an_agency_entry_or_email_the_form_still_renders() -> None:
    pdf = render_declaration_pdf(
        declaration(email=None, wants_email=False, street=""),
        RECEIPT,
        None,
        SUBMITTED,
        "vi",
        TRANSLATOR,
    )
    text = nfc(PdfReader(io.BytesIO(pdf)).pages[0].extract_text())
    assert "Kính gửi: 03102" in text and "(không có)" in text
    assert "Phường Gia Viên, Thành phố Hải Phòng" in text


def test_the_same_declaration_gives_the_same_bytes() -> None:
    assert render()[0] == render()[0]


@pytest.mark.parametrize(
    ("receipt", "name"),
    [
        ("00001.GD/2026/03102", "to-khai-01_00001.GD-2026-03102.pdf"),
        ("../../etc", "to-khai-01_..-..-etc.pdf"),
        ("", "to-khai-01_declaration.pdf"),
    ],
)
def test_file_names_have_no_slash(receipt: str, name: str) -> None:
    assert declaration_filename(receipt) == name


def test_the_metadata_says_what_and_when() -> None:
    _, reader, _ = render()
    meta = reader.metadata
    assert meta is not None
    assert meta.title == nfc(TRANSLATOR.text("vi", "pdf.title"))
    assert meta.author == "Nguyễn Văn An" and meta.subject == RECEIPT
    assert meta.creator == "vssid-bot"
    assert meta.creation_date == SUBMITTED
    assert reader.trailer["/Root"]["/Lang"] == "vi"


def test_a_long_answer_wraps_and_runs_onto_a_second_page_with_the_footer() -> None:
    street = " ".join(["Ngõ 12 ngách 34 hẻm 56 đường Lạch Tray"] * 30)
    email = "nguyen.van.an." + "x" * 80 + "@example.com"  # wider than the value column
    pdf = render_declaration_pdf(
        declaration(street=street, email=email),
        RECEIPT,
        agency_info(load_directory().by_code("03102")),
        SUBMITTED,
        "vi",
        TRANSLATOR,
    )
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == 2
    footer = nfc(TRANSLATOR.text("vi", "pdf.footer"))
    texts = [nfc(page.extract_text()) for page in pages]
    assert all(footer in text for text in texts)
    assert street in texts[0]
    assert email in "".join(texts[1].split())  # cut between characters, nothing lost
    assert RECEIPT in texts[1] and "Người kê khai" in texts[1]
