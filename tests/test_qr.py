"""Reading card QR codes from photos, as users send them (synthetic photos only)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import date
from pathlib import Path

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from bot.cli import scan as scan_cli
from bot.flows.qr import CardScan, read_qr_texts, scan_card
from tests.corpus import make_card_photo, render


def _png(jpeg: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(buffer, "PNG")
    return buffer.getvalue()


def _qr_photo(payload: str) -> bytes:
    """A QR code shown on a screen/paper, photographed straight: what a wrong QR looks like."""
    qr = segno.make_qr(payload, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=8, border=4)
    image = Image.open(buffer).convert("RGB")
    photo = Image.new("RGB", (1280, 960), (120, 110, 100))
    photo.paste(image, (200, 100))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def clean_cccd() -> tuple[bytes, str]:
    return make_card_photo(1, "clean", 1280, "cccd")


def test_a_clean_photo_of_a_cccd_fills_the_form(clean_cccd: tuple[bytes, str]) -> None:
    jpeg, payload = clean_cccd
    scan = scan_card(jpeg)
    assert scan.kind == "cccd"
    assert scan.problem is None
    assert scan.cccd is not None
    fields = payload.split("|")
    assert scan.cccd.id_number == fields[0]
    assert scan.cccd.full_name == fields[2]
    assert scan.cccd.birth_date == date(int(fields[3][4:]), int(fields[3][2:4]), int(fields[3][:2]))
    assert scan.texts == (payload,)


def test_the_decoded_text_is_the_exact_payload(clean_cccd: tuple[bytes, str]) -> None:
    jpeg, payload = clean_cccd
    assert read_qr_texts(jpeg) == [payload]


@pytest.mark.parametrize("size", [1280, 2560])
def test_a_clean_photo_of_a_health_insurance_card_is_read(size: int) -> None:
    jpeg, payload = make_card_photo(2, "clean", size, "bhyt")
    scan = scan_card(jpeg)
    assert scan.kind == "bhyt"
    assert scan.bhyt is not None
    assert scan.bhyt.card_number == payload.split("|")[0]
    assert scan.bhyt.bhxh_code == payload.split("|")[0][-10:]


@pytest.mark.parametrize(("bucket", "seed"), [("rot_0_30", 4), ("rot_90_180", 5)])
def test_a_card_photographed_at_an_angle_or_sideways_is_read(bucket: str, seed: int) -> None:
    jpeg, payload = make_card_photo(seed, bucket, 1280)
    assert payload in read_qr_texts(jpeg)


def test_a_photo_sent_as_a_png_document_is_read(clean_cccd: tuple[bytes, str]) -> None:
    jpeg, payload = clean_cccd
    assert scan_card(_png(jpeg)).cccd is not None


def test_a_photo_with_exif_orientation_is_read() -> None:
    jpeg, payload = make_card_photo(6, "clean", 1280)
    image = Image.open(io.BytesIO(jpeg)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 8  # the viewer must rotate it back
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    assert read_qr_texts(buffer.getvalue()) == [payload]


def test_a_blurred_photo_is_rescued_by_deconvolution() -> None:
    # Gaussian blur σ 1.65 px on ~2.9 px modules: plain zxing reads nothing (PERF.md §1).
    photo = render(10, "blur", 1280)
    assert photo.params.blur_sigma > 1.5
    assert photo.payload in read_qr_texts(photo.jpeg)


def test_a_photo_smeared_by_hand_movement_is_rescued() -> None:
    photo = render(4, "blur", 1280)
    assert photo.params.motion > 3
    assert photo.payload in read_qr_texts(photo.jpeg)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (
            "00020101021238570010A00000072701270006970436011300123456789010208QRIBFTTA5303704"
            "5802VN62150811Chuyen tien6304ABCD",
            "vietqr",
        ),
        ("https://example.com/dang-ky?ref=12345", "url"),
        ("Just some text on a QR sticker", "unknown"),
    ],
)
def test_a_wrong_qr_is_named_so_the_user_can_be_told(payload: str, kind: str) -> None:
    scan = scan_card(_qr_photo(payload))
    assert scan == CardScan(
        kind=kind,  # type: ignore[arg-type]
        cccd=None,
        bhyt=None,
        raw_kind_hint=None,
        problem=None,
        texts=(payload,),
    )


def test_a_card_like_payload_that_fails_validation_is_hinted() -> None:
    payload = "001099012345||Nguyễn Văn An|31021999|Nam|Hà Nội|15082021"  # 31 February
    scan = scan_card(_qr_photo(payload))
    assert (scan.kind, scan.raw_kind_hint, scan.cccd) == ("unknown", "cccd_malformed", None)


def test_a_photo_without_a_qr_says_no_qr() -> None:
    photo = render(3, "clean", 1280, with_qr=False)
    scan = scan_card(photo.jpeg)
    assert (scan.kind, scan.problem, scan.texts) == (None, "no_qr", ())


def test_a_plain_photo_of_a_table_says_no_qr() -> None:
    image = Image.new("RGB", (1280, 960), (150, 110, 70))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 100, 500, 400), fill=(240, 240, 230))
    draw.ellipse((700, 300, 1000, 700), fill=(30, 60, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    assert scan_card(buffer.getvalue()).problem == "no_qr"


def test_a_very_dark_photo_says_too_dark() -> None:
    photo = render(3, "clean", 1280, exposure=0.06)
    assert scan_card(photo.jpeg).problem == "too_dark"


def test_a_hopelessly_blurred_photo_says_blurred() -> None:
    photo = render(3, "clean", 1280, blur_sigma=3.0)
    assert scan_card(photo.jpeg).problem == "blurred"


def test_a_card_photographed_from_across_the_room_says_too_small() -> None:
    photo = render(2, "clean", 1280, card_frac=0.18)  # ~0.9 px per QR module
    assert photo.px_per_module < 1.0
    assert scan_card(photo.jpeg).problem == "too_small"


def test_a_thumbnail_says_too_small() -> None:
    jpeg, _ = make_card_photo(1, "clean", 1280)
    image = Image.open(io.BytesIO(jpeg))
    image.thumbnail((320, 320))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    assert scan_card(buffer.getvalue()).problem == "too_small"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"%PDF-1.7\n%%EOF", "not_image"),
        (None, "truncated"),
        (b"GIF89a" + bytes(30), "unsupported_format"),
    ],
)
def test_files_that_are_no_usable_image_pass_on_the_photo_problem(
    data: bytes | None, problem: str, clean_cccd: tuple[bytes, str]
) -> None:
    if data is None:  # an upload cut off half-way
        data = clean_cccd[0][: len(clean_cccd[0]) // 2]
    scan = scan_card(data)
    assert (scan.kind, scan.problem) == (None, problem)
    assert read_qr_texts(data) == []


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=600), prefix=st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG"]))
def test_scanning_any_bytes_never_raises(data: bytes, prefix: bytes) -> None:
    scan = scan_card(prefix + data)
    assert scan.problem is not None or scan.texts


def test_the_scan_command_prints_one_json_line_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_cccd: tuple[bytes, str]
) -> None:
    card = tmp_path / "card.jpg"
    card.write_bytes(clean_cccd[0])
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    parser = argparse.ArgumentParser()
    scan_cli.register(parser.add_subparsers())
    args = parser.parse_args(["scan", str(card), str(pdf), str(tmp_path / "missing.jpg")])
    assert args.func(args) == 1  # not every file gave a card
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["kind"], x["problem"]) for x in lines] == [
        ("cccd", None),
        (None, "not_image"),
        (None, "unreadable_file"),
    ]
    fields = lines[0]["fields"]
    assert fields["id_number"] == clean_cccd[1].split("|")[0]
    assert (
        fields["birth_date"]
        == date(1900, 1, 1)
        .replace(
            year=int(clean_cccd[1].split("|")[3][4:]),
            month=int(clean_cccd[1].split("|")[3][2:4]),
            day=int(clean_cccd[1].split("|")[3][:2]),
        )
        .isoformat()
    )
    assert set(lines[0]) == {"file", "kind", "fields", "ms", "problem", "checks"}
