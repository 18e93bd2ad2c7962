"""The declaration (mẫu 01, "01/ĐK-GD") as a PDF, in the citizen's language.

Rendered with reportlab's canvas (``reportlab.pdfgen``) and the bundled DejaVu Sans
(``bot/fonts/``, a subset with every Vietnamese letter), so diacritics are real glyphs and
the text can be copied or extracted (each embedded font subset carries a ToUnicode map).
Every label and statement comes from the catalogue (``pdf.*`` keys); the ID number is shown
in full, since this is the citizen's own document. Nothing here touches the network or the
database: the same bytes are sent in the chat and attached to the e-mail copy.

Why reportlab and not fpdf2 (which rendered this form until then): fpdf2 parsed both TTF
files with fontTools for every document, then subset and re-saved them at ``output()``:
about 60 ms of CPU per page (bench/pdf.py: median 57–66 ms, p95 86–100 ms). reportlab
parses each font once per process (``_fonts()``, ~35 ms on the first render) and cuts a
document's glyph subset itself; with the ``rl_accel`` C helpers (string widths, number
formatting) the same page takes about 4.5 ms (median 4.2–6 ms, p95 4.5–8 ms) and weighs
32 KB instead of 34 KB. The canvas level is used, not platypus: the layout is a column of
wrapped lines, which the few helpers below place as the fpdf2 version did (margins
20/15/20 mm, 5.6 mm per 10 pt line, 68 mm label column, footer 16 mm from the bottom), and
a platypus version of the same page (paragraphs and a two-column table) took 7.3 ms.
"""

from __future__ import annotations

import io
import re
import struct
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from reportlab import rl_config
from reportlab.lib.rl_accel import calcChecksum
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from bot.clock import VIETNAM
from bot.flows.agencies import public_contact
from bot.flows.events import ParamValue
from bot.guardians.declaration import copy_email, declarer_name, guardian, is_child
from bot.i18n import Translator

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
FONT_BOLD = "DejaVu-Bold"
MIME = "application/pdf"

# Geometry in mm, top-down like the paper (reportlab counts points from the bottom).
_PT = 72 / 25.4  # points per mm
_PAGE_W, _PAGE_H = 210.0, 297.0  # A4
_LEFT, _TOP, _RIGHT = 20.0, 15.0, 20.0
_BOTTOM = _PAGE_H - 20.0  # a line that would end below this goes on the next page
_WIDTH = _PAGE_W - _LEFT - _RIGHT  # 170
_PAD = 1.0  # inner margin of a cell, left and right
_LABEL_WIDTH = 68.0  # of the 170 between the margins
_LINE = 5.6  # line height for 10 pt
_FOOTER_TOP, _FOOTER_SIZE, _FOOTER_LINE = _PAGE_H - 16.0, 7.5, 3.6
_FOOTER_GREY = 90 / 255
_FONTS_LOCK = threading.Lock()  # two threads rendering a first PDF register them once


@cache
def _fonts() -> tuple[str, str]:
    """Register the two fonts once per process: parsing a TTF is the expensive part.

    ``asciiReadable=False``: a document's subset holds only the letters it uses (by default
    reportlab adds all of printable ASCII: 95 glyphs more per font, 10 KB more per PDF).
    Also turns off ASCII85 for the page streams (process-wide; nothing else here uses
    reportlab): a text-safe encoding a PDF sent as a file does not need, which makes the
    compressed page stream a quarter bigger. Compression itself stays on: it costs ~0.9 ms
    a page and saves 17 KB (49 KB uncompressed).
    """
    with _FONTS_LOCK:
        rl_config.useA85 = 0
        registered = pdfmetrics.getRegisteredFontNames()
        for name, file in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
            if name not in registered:
                font = TTFont(name, _lean_font(FONT_DIR / file), asciiReadable=False)
                pdfmetrics.registerFont(font)
    return FONT, FONT_BOLD


def _lean_font(path: Path) -> io.BytesIO:
    """The font file with its ``name`` table cut to names 0–6 (copyright, family, style,
    unique ID, full name, version, PostScript name).

    reportlab copies the ``name`` table whole into every subset it embeds; in these files
    it is 10 KB, mostly the licence text (kept in ``bot/fonts/``), so every PDF would
    carry it twice: 4 KB more per PDF once compressed, and 1 ms to compress.
    """
    data = path.read_bytes()
    (count,) = struct.unpack_from(">H", data, 4)
    tables: dict[bytes, bytes] = {}
    for i in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        tables[tag] = data[offset : offset + length]
    name = tables[b"name"]
    _, records, strings_at = struct.unpack_from(">HHH", name, 0)
    kept: list[bytes] = []
    strings = bytearray()
    for i in range(records):
        platform, encoding, language, name_id, length, offset = struct.unpack_from(
            ">6H", name, 6 + 12 * i
        )
        if name_id <= 6:
            kept.append(
                struct.pack(">6H", platform, encoding, language, name_id, length, len(strings))
            )
            strings += name[strings_at + offset : strings_at + offset + length]
    header = struct.pack(">HHH", 0, len(kept), 6 + 12 * len(kept))
    tables[b"name"] = header + b"".join(kept) + bytes(strings)
    offset = 12 + 16 * len(tables)
    directory: list[bytes] = []
    body: list[bytes] = []
    for tag in sorted(tables):
        table = tables[tag]
        directory.append(struct.pack(">4sIII", tag, calcChecksum(table), offset, len(table)))
        table += b"\0" * (-len(table) % 4)
        body.append(table)
        offset += len(table)
    return io.BytesIO(data[:12] + b"".join(directory) + b"".join(body))


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
    """The agency fields the PDF and the e-mail show, from a ``bot.flows.agencies.Agency``:
    its address and phone only where they are facts (``public_contact``), as in the chat."""
    if agency is None:
        return None
    address, phone = public_contact(agency)
    return {
        "code": str(agency.code),
        "name": str(agency.name),
        "address": address,
        "phone": _phone(phone),  # as the chat shows it: 0225 3826 582
    }


def _nfc(value: object) -> str:
    return unicodedata.normalize("NFC", str(value))


def _phone(value: str) -> str:
    from bot.flows.validators import phone_display

    return phone_display(value) if value else ""


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width`` mm: greedy on spaces; a word longer than a line (a long
    e-mail address) is cut between characters rather than running into the margin."""
    limit = width * _PT
    measure = pdfmetrics.stringWidth
    space = measure(" ", font, size)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, used = "", 0.0
        for word in paragraph.split():
            wide = measure(word, font, size)
            if line and used + space + wide <= limit:
                line, used = f"{line} {word}", used + space + wide
                continue
            if line:
                lines.append(line)
            line, used = word, wide
            while used > limit and len(line) > 1:
                cut = _fits(line, font, size, limit)
                lines.append(line[:cut])
                line = line[cut:]
                used = measure(line, font, size)
        lines.append(line)
    return lines


def _fits(text: str, font: str, size: float, limit: float) -> int:
    """How many characters of ``text`` fit in ``limit`` points (at least one)."""
    used = 0.0
    for i, char in enumerate(text):
        used += pdfmetrics.stringWidth(char, font, size)
        if used > limit:
            return max(i, 1)
    return len(text)


class _Writer:
    """Places wrapped lines from the top of an A4 page down, starting a page when needed;
    ``y`` is the top of the next line in mm."""

    def __init__(self, lang: str, translator: Translator) -> None:
        self.lang = lang
        self.translator = translator
        self.regular, self.bold = _fonts()
        self.buffer = io.BytesIO()
        # invariant: no clock in the bytes (the dates are set from submitted_at instead)
        self.canvas = Canvas(
            self.buffer,
            pagesize=(_PAGE_W * _PT, _PAGE_H * _PT),
            pageCompression=1,
            invariant=1,
            lang=lang,
            initialFontName=self.regular,  # else an unused Helvetica is listed in the PDF
            initialFontSize=10,
        )
        self.footer_text = ""
        self.y = _TOP

    def t(self, key: str, params: dict[str, ParamValue] | None = None) -> str:
        return _nfc(self.translator.text(self.lang, key, params))

    def _draw(
        self,
        text: str,
        x: float,
        width: float,
        top: float,
        height: float,
        size: float,
        align: str,
    ) -> None:
        """One line in the cell ``x``..``x + width`` in the current font of ``size`` pt, placed
        as fpdf2 did: ``_PAD`` from the cell's sides, baseline at ``top + height/2 + 0.3 size``."""
        baseline = (_PAGE_H - (top + height / 2 + 0.3 * size / _PT)) * _PT
        if align == "R":
            self.canvas.drawRightString((x + width - _PAD) * _PT, baseline, text)
        elif align == "C":
            self.canvas.drawCentredString((x + width / 2) * _PT, baseline, text)
        else:
            self.canvas.drawString((x + _PAD) * _PT, baseline, text)

    def _footer(self) -> None:
        canvas = self.canvas
        canvas.setFont(self.regular, _FOOTER_SIZE)
        canvas.setFillGray(_FOOTER_GREY)
        top = _FOOTER_TOP
        for text in _wrap(self.footer_text, self.regular, _FOOTER_SIZE, _WIDTH - 2 * _PAD):
            self._draw(text, _LEFT, _WIDTH, top, _FOOTER_LINE, _FOOTER_SIZE, "L")
            top += _FOOTER_LINE
        canvas.setFillGray(0)

    def new_page(self) -> None:
        self._footer()
        self.canvas.showPage()
        self.y = _TOP

    def finish(self) -> bytes:
        self._footer()
        self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()

    def line(self, text: str, *, size: float = 10, bold: bool = False, align: str = "L") -> None:
        font = self.bold if bold else self.regular
        height = _LINE * size / 10
        self.canvas.setFont(font, size)
        for part in _wrap(text, font, size, _WIDTH - 2 * _PAD):
            if self.y + height > _BOTTOM:
                self.new_page()
                self.canvas.setFont(font, size)
            self._draw(part, _LEFT, _WIDTH, self.y, height, size, align)
            self.y += height

    def gap(self, height: float = 3) -> None:
        self.y += height

    def field(self, label: str, value: str) -> None:
        """Label on the left, the answer in bold on the right, both wrapped; kept on one
        page when it fits on one."""
        value_x, value_width = _LEFT + _LABEL_WIDTH, _WIDTH - _LABEL_WIDTH
        labels = _wrap(label + ":", self.regular, 10, _LABEL_WIDTH - 2 * _PAD)
        values = _wrap(value or "—", self.bold, 10, value_width - 2 * _PAD)
        rows = max(len(labels), len(values))
        needed = max(rows, 2) * _LINE
        if self.y + needed > _BOTTOM and _TOP + needed <= _BOTTOM:
            self.new_page()
        canvas = self.canvas
        for row in range(rows):
            if self.y + _LINE > _BOTTOM:
                self.new_page()
            if row < len(labels):
                canvas.setFont(self.regular, 10)
                self._draw(labels[row], _LEFT, _LABEL_WIDTH, self.y, _LINE, 10, "L")
            if row < len(values):
                canvas.setFont(self.bold, 10)
                self._draw(values[row], value_x, value_width, self.y, _LINE, 10, "L")
            self.y += _LINE
        self.y += 1

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
    canvas = w.canvas
    canvas.setTitle(w.t("pdf.title"))
    canvas.setAuthor(_nfc(declarer_name(data)))  # a child's guardian declares and signs
    canvas.setSubject(receipt)
    canvas.setCreator("vssid-bot")
    stamp = submitted_at.astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")
    canvas.setDateFormatter(lambda *_: stamp)  # CreationDate and ModDate
    _declaration(w, data, receipt, agency, submitted_at)
    return w.finish()


def render_bundle(
    cover_title: str,
    cover_lines: Sequence[str],
    declarations: Sequence[tuple[Mapping[str, Any], str, Mapping[str, str] | None, datetime]],
    lang: str,
    translator: Translator,
) -> bytes:
    """A cover list, then each declaration (``render_declaration_pdf``'s arguments) from
    a new page: the stack an organisation's department prints and gathers (issue 13)."""
    w = _Writer(lang, translator)
    w.footer_text = w.t("pdf.footer")
    w.canvas.setTitle(cover_title)
    w.canvas.setCreator("vssid-bot")
    w.line(_nfc(cover_title), size=13, bold=True, align="C")
    w.gap(4)
    for text in cover_lines:
        w.line(_nfc(text))
    for data, receipt, agency, submitted_at in declarations:
        w.new_page()
        _declaration(w, data, receipt, agency, submitted_at)
    return w.finish()


def _declaration(
    w: _Writer,
    data: Mapping[str, Any],
    receipt: str,
    agency: Mapping[str, str] | None,
    submitted_at: datetime,
) -> None:
    local = submitted_at.astimezone(VIETNAM)
    name = _nfc(data.get("full_name", ""))
    declarer = _nfc(declarer_name(data))  # a child's guardian declares and signs
    agency_code = str((agency or {}).get("code") or data.get("agency_code") or "")
    agency_name = _nfc((agency or {}).get("name") or "")
    agency_shown = f"{agency_name} ({agency_code})" if agency_name else agency_code

    w.footer_text = w.t("pdf.footer")
    _header(w, agency_shown)
    _fields(w, data, name)
    _statements(w, data, name, local, agency, agency_shown)
    _closing(w, receipt, local, declarer)


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
    w.field(w.t("pdf.field.full_name"), name)
    w.field(w.t("pdf.field.bhxh_code"), _nfc(data.get("bhxh_code", "")))
    if is_child(data):  # the birth certificate stands for an ID card
        born = date.fromisoformat(str(data["birth_date"])).strftime("%d/%m/%Y")
        w.field(w.t("pdf.field.birth_date"), born)
        w.field(w.t("pdf.field.gender"), w.t(f"gender.{data.get('gender') or 'male'}"))
    else:
        w.field(
            w.t("pdf.field.id_number"),
            f"{id_number} ({w.t(f'id_type.{id_type}')})" if id_number else "",
        )
    contact = {**data, **guardian(data)}  # a child is reached through the guardian
    w.field(w.t("pdf.field.address"), _nfc(address_text(contact)))
    w.field(w.t("pdf.field.contact"), _nfc(declarer_name(data)))
    w.field(w.t("pdf.field.phone"), _phone(str(contact.get("phone") or "")))
    w.field(w.t("pdf.field.email"), _nfc(copy_email(data)) or w.t("pdf.none"))
    if is_child(data):
        relationship = w.t(f"relationship.{data.get('relationship') or 'other_guardian'}")
        code = guardian(data).get("bhxh_code", "")
        w.field(
            w.t("pdf.field.guardian"), _nfc(f"{declarer_name(data)} ({relationship}) – BHXH {code}")
        )
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
    wants = (is_child(data) or bool(data.get("wants_email"))) and bool(copy_email(data))
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
