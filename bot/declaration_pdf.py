"""The declaration (mẫu 01, "01/ĐK-GD") as a PDF, in the citizen's language.

Rendered with fpdf2 and the bundled DejaVu Sans (``bot/fonts/``, a subset with every
Vietnamese letter), so diacritics are real glyphs and the text can be copied or extracted.
Every label and statement comes from the catalogue (``pdf.*`` keys); the ID number is shown
in full, since this is the citizen's own document. Nothing here touches the network or the
database: the same bytes are sent in the chat and attached to the e-mail copy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from bot.clock import VIETNAM
from bot.flows.events import ParamValue
from bot.i18n import Translator

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
MIME = "application/pdf"
_LABEL_WIDTH = 68.0  # mm, of 170 between the margins
_LINE = 5.6


class _Document(FPDF):
    """A4 with the notice about who made this copy at the foot of every page."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-16)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(90)
        self.multi_cell(0, 3.6, self.footer_text, align="L")
        self.set_text_color(0)


def declaration_filename(receipt: str) -> str:
    """``00001.GD/2026/03102`` → ``to-khai-01_00001.GD-2026-03102.pdf`` (no slash in it)."""
    safe = re.sub(r"[^0-9A-Za-z.]+", "-", receipt).strip("-") or "declaration"
    return f"to-khai-01_{safe}.pdf"


def address_text(data: Mapping[str, Any]) -> str:
    """House/street, commune, province — resolved from the 2025 codes in the answers."""
    if data.get("address"):
        return str(data["address"])
    from bot.flows.places import catalogue

    places = catalogue()
    province = places.province(str(data.get("province_code", "")))
    commune = places.commune(str(data.get("commune_code", "")))
    parts = (data.get("street"), commune and commune.name, province and province.name)
    return ", ".join(str(p) for p in parts if p)


def agency_info(agency: Any) -> dict[str, str] | None:
    """The agency fields the PDF and the e-mail show, from a ``bot.flows.agencies.Agency``."""
    if agency is None:
        return None
    return {
        "code": str(agency.code),
        "name": str(agency.name),
        "address": str(agency.address or ""),
        "phone": str(agency.phone or ""),
    }


def _nfc(value: object) -> str:
    return unicodedata.normalize("NFC", str(value))


def _phone(value: str) -> str:
    from bot.flows.validators import phone_display

    return phone_display(value) if value else ""


class _Writer:
    def __init__(self, lang: str, translator: Translator) -> None:
        self.lang = lang
        self.translator = translator
        pdf = _Document(orientation="P", unit="mm", format="A4")
        pdf.set_margins(20, 15, 20)
        pdf.set_auto_page_break(auto=True, margin=20)
        pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        pdf.add_page()
        self.pdf = pdf

    def t(self, key: str, params: dict[str, ParamValue] | None = None) -> str:
        return _nfc(self.translator.text(self.lang, key, params))

    def line(self, text: str, *, size: float = 10, bold: bool = False, align: str = "L") -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.multi_cell(
            0, _LINE * size / 10, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def gap(self, height: float = 3) -> None:
        self.pdf.ln(height)

    def field(self, label: str, value: str) -> None:
        """Label on the left, the answer in bold on the right, both wrapped."""
        pdf = self.pdf
        if pdf.get_y() + 2 * _LINE > pdf.page_break_trigger:
            pdf.add_page()
        top = pdf.get_y()
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(
            _LABEL_WIDTH, _LINE, label + ":", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        label_bottom = pdf.get_y()
        pdf.set_xy(pdf.l_margin + _LABEL_WIDTH, top)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(0, _LINE, value or "—", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_y(max(pdf.get_y(), label_bottom) + 1)

    def choice(self, chosen: bool, text: str) -> None:
        self.line(("☒ " if chosen else "☐ ") + text)


def render_declaration_pdf(
    data: Mapping[str, Any],
    receipt: str,
    agency: Mapping[str, str] | None,
    submitted_at: datetime,
    lang: str,
    translator: Translator,
) -> bytes:
    """The mẫu 01 declaration as PDF bytes.

    ``data`` is the stored declaration (``full_name``, ``bhxh_code``, ``id_number``,
    ``id_type``, ``street``/``commune_code``/``province_code`` or ``address``, ``phone``,
    ``email``, ``wants_email``, ``agency_code``); ``agency`` is ``agency_info(...)`` or None
    (then only the code is shown); ``submitted_at`` is shown in Vietnam time.
    """
    w = _Writer(lang, translator)
    pdf = w.pdf
    local = submitted_at.astimezone(VIETNAM)
    name = _nfc(data.get("full_name", ""))
    agency_code = str((agency or {}).get("code") or data.get("agency_code") or "")
    agency_name = _nfc((agency or {}).get("name") or "")
    agency_shown = f"{agency_name} ({agency_code})" if agency_name else agency_code

    pdf.set_title(w.t("pdf.title"))
    pdf.set_author(name)
    pdf.set_subject(receipt)
    pdf.set_creator("vssid-bot")
    pdf.set_lang(lang)
    pdf.set_creation_date(submitted_at)
    pdf.footer_text = w.t("pdf.footer")

    _header(w, agency_shown)
    _fields(w, data, name)
    _statements(w, data, name, local, agency, agency_shown)
    _closing(w, receipt, local, name)
    return bytes(pdf.output())


def _header(w: _Writer, agency_shown: str) -> None:
    w.line(w.t("pdf.form_code"), size=9, align="R")
    w.line(w.t("pdf.nation"), size=11, bold=True, align="C")
    w.line(w.t("pdf.motto"), size=10, bold=True, align="C")
    w.gap(5)
    w.line(w.t("pdf.title"), size=13, bold=True, align="C")
    w.line(w.t("pdf.kind"), size=10, align="C")
    w.gap(4)
    w.line(w.t("pdf.addressee", {"agency": agency_shown}), bold=True)
    w.gap(3)


def _fields(w: _Writer, data: Mapping[str, Any], name: str) -> None:
    id_type = str(data.get("id_type") or "cccd")
    id_number = _nfc(data.get("id_number", ""))
    email = _nfc(data.get("email") or "")
    w.field(w.t("pdf.field.full_name"), name)
    w.field(w.t("pdf.field.bhxh_code"), _nfc(data.get("bhxh_code", "")))
    w.field(
        w.t("pdf.field.id_number"),
        f"{id_number} ({w.t(f'id_type.{id_type}')})" if id_number else "",
    )
    w.field(w.t("pdf.field.address"), _nfc(address_text(data)))
    w.field(w.t("pdf.field.contact"), name)
    w.field(w.t("pdf.field.phone"), _phone(str(data.get("phone") or "")))
    w.field(w.t("pdf.field.email"), email or w.t("pdf.none"))
    w.gap(3)


def _statements(
    w: _Writer,
    data: Mapping[str, Any],
    name: str,
    local: datetime,
    agency: Mapping[str, str] | None,
    agency_shown: str,
) -> None:
    w.line(w.t("pdf.statement.decree", {"name": name}))
    w.gap(2)
    day: dict[str, ParamValue] = {
        "day": f"{local.day:02d}",
        "month": f"{local.month:02d}",
        "year": local.year,
    }
    w.line(w.t("pdf.statement.from_date", day))
    w.gap(2)
    w.line(w.t("pdf.statement.place"))
    w.choice(True, w.t("pdf.option.portal"))
    w.choice(False, w.t("pdf.option.ivan"))
    w.gap(2)
    w.field(w.t("pdf.field.agency"), agency_shown)
    if agency and (agency.get("address") or agency.get("phone")):
        contact = " · ".join(_nfc(v) for v in (agency.get("address"), agency.get("phone")) if v)
        w.line(contact, size=9)
        w.gap(1)
    wants = bool(data.get("wants_email")) and bool(data.get("email"))
    w.line(w.t("pdf.statement.email_copy", {"answer": w.t("pdf.yes" if wants else "pdf.no")}))
    w.gap(2)
    w.line(w.t("pdf.statement.commitment"))
    w.gap(5)


def _closing(w: _Writer, receipt: str, local: datetime, name: str) -> None:
    w.line(w.t("pdf.receipt", {"receipt": receipt}), size=11, bold=True)
    moment: dict[str, ParamValue] = {
        "time": local.strftime("%H:%M"),
        "date": local.strftime("%d/%m/%Y"),
    }
    w.line(w.t("pdf.submitted_at", moment))
    w.gap(6)
    w.line(w.t("pdf.signature"), align="R")
    w.line(name, bold=True, align="R")
