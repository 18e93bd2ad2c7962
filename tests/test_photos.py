"""User stories for photo checking: what happens to what people actually send the bot."""

from __future__ import annotations

import io
import time
import tracemalloc
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFile

from bot.flows import photos
from bot.flows.photos import (
    MAX_FILE_BYTES,
    MIN_SIDE,
    CheckedPhoto,
    PhotoProblem,
    check_photo,
    sniff_format,
)

# --- synthetic inputs ---------------------------------------------------------------------


def _scene(width: int, height: int) -> Image.Image:
    """A synthetic 'photo': gradient plus shapes, so JPEG sizes are realistic."""
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(im)
    for i in range(0, width, max(1, width // 12)):
        draw.line((i, 0, width - i, height), fill=(200, 30, 30), width=3)
    draw.rectangle((width // 4, height // 4, width // 2, height // 2), fill=(20, 20, 160))
    return im


def _encode(im: Image.Image, fmt: str = "JPEG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny real JPEG whose SOF header is rewritten to claim ``width``×``height``."""
    data = bytearray(_encode(Image.new("L", (8, 8), 128), quality=50))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def _ok(result: CheckedPhoto | PhotoProblem) -> CheckedPhoto:
    assert isinstance(result, CheckedPhoto), result
    return result


def _problem(result: CheckedPhoto | PhotoProblem) -> PhotoProblem:
    assert isinstance(result, PhotoProblem), result
    return result


@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    return _encode(_scene(1600, 1200), quality=85)


# --- hostile files ------------------------------------------------------------------------


def test_a_693_byte_jpeg_claiming_13000_square_is_refused_before_it_is_decoded() -> None:
    bomb = _jpeg_claiming(13000, 13000)
    assert len(bomb) < 1000
    tracemalloc.start()
    started = time.perf_counter()
    problem = _problem(check_photo(bomb))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert problem.reason == "too_many_pixels"
    assert problem.detail == {"width": 13000, "height": 13000, "max_pixels": photos.MAX_PIXELS}
    assert elapsed < 0.05  # decoding it would take ~0.6 s and 660 MB
    assert peak < 2_000_000


@pytest.mark.parametrize("side", [7000, 9000, 10000, 60000])
def test_no_pillow_bomb_warning_or_error_escapes_whatever_the_claimed_size(side: int) -> None:
    # pytest turns warnings into errors here, and we also make sure none is even emitted.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problem = _problem(check_photo(_jpeg_claiming(side, side)))
    assert problem.reason == "too_many_pixels"
    assert caught == []


def test_the_global_pillow_limit_does_not_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another part of the process may lower Pillow's global limit; our check is our own.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert _ok(check_photo(_encode(_scene(800, 600)))).width == 800
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert _problem(check_photo(_jpeg_claiming(13000, 13000))).reason == "too_many_pixels"


def test_a_png_claiming_too_many_pixels_is_refused_from_its_header() -> None:
    png = bytearray(_encode(Image.new("L", (8, 8)), "PNG"))
    png[16:20] = (20000).to_bytes(4, "big")  # IHDR width
    png[20:24] = (20000).to_bytes(4, "big")  # IHDR height
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")  # keep the chunk valid
    assert _problem(check_photo(bytes(png))).reason == "too_many_pixels"


def test_a_file_over_20_mb_is_refused_without_reading_it() -> None:
    huge = b"\xff\xd8\xff" + bytes(MAX_FILE_BYTES)
    problem = _problem(check_photo(huge))
    assert problem.reason == "file_too_big"
    assert problem.detail["max_mb"] == 20


def test_truncated_images_are_never_silently_completed() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- wrong files --------------------------------------------------------------------------


def test_a_pdf_sent_as_a_document_is_refused_as_not_an_image() -> None:
    pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n%%EOF\n"
    assert _problem(check_photo(pdf)).reason == "not_image"


@pytest.mark.parametrize("data", [b"", b"hello", b"PK\x03\x04zipfile", bytes(100)])
def test_other_non_images_are_refused_as_not_an_image(data: bytes) -> None:
    assert _problem(check_photo(data)).reason == "not_image"


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_a_gif_bmp_or_tiff_is_refused_as_an_unsupported_format(fmt: str, name: str) -> None:
    problem = _problem(check_photo(_encode(_scene(800, 600), fmt)))
    assert problem.reason == "unsupported_format"
    assert problem.detail == {"format": name}


def test_a_500x400_photo_is_refused_as_too_small() -> None:
    problem = _problem(check_photo(_encode(_scene(500, 400))))
    assert problem.reason == "too_small"
    assert problem.detail == {"width": 500, "height": 400, "min_side": MIN_SIDE}


def test_a_photo_exactly_600_px_high_is_accepted() -> None:
    assert _ok(check_photo(_encode(_scene(900, 600)))).height == 600


# --- cut-off uploads ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("keep", [0.02, 0.5, 0.95])
def test_a_photo_cut_off_during_upload_is_reported_as_truncated(fmt: str, keep: float) -> None:
    data = _encode(_scene(800, 600), fmt)
    assert _problem(check_photo(data[: int(len(data) * keep)])).reason == "truncated"


# --- accepted photos ----------------------------------------------------------------------


def test_a_normal_phone_photo_is_stored_as_jpeg_at_full_size(phone_jpeg: bytes) -> None:
    photo = _ok(check_photo(phone_jpeg))
    assert (photo.width, photo.height) == (1600, 1200)
    assert photo.source_format == "JPEG"
    stored = Image.open(io.BytesIO(photo.jpeg))
    assert stored.format == "JPEG"
    assert stored.size == (1600, 1200)


@pytest.mark.parametrize(
    ("size", "stored"),
    [((6000, 4000), (1500, 1000)), ((4032, 3024), (2016, 1512)), ((2560, 1920), (2560, 1920))],
)
def test_a_big_camera_photo_is_stored_halved_until_it_fits_2560(
    size: tuple[int, int], stored: tuple[int, int]
) -> None:
    data = _encode(_scene(*size), quality=85)
    started = time.perf_counter()
    photo = _ok(check_photo(data))
    assert (photo.width, photo.height) == stored
    # DCT-scaled decoding, no resampling: well under a second even on a slow shared VM.
    assert time.perf_counter() - started < 1.0


def test_a_big_png_is_reduced_the_same_way() -> None:
    photo = _ok(check_photo(_encode(_scene(3000, 2000), "PNG")))
    assert (photo.width, photo.height) == (1500, 1000)


def test_a_photo_taken_sideways_is_stored_upright() -> None:
    # The sensor recorded 800×600 with the scene's top on the left (EXIF orientation 6,
    # "rotate 90° clockwise to view"): red band on the left = top of the scene.
    sensor = Image.new("RGB", (800, 600), (0, 0, 255))
    sensor.paste((255, 0, 0), (0, 0, 200, 600))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = _ok(check_photo(_encode(sensor, exif=exif.tobytes())))
    assert (photo.width, photo.height) == (600, 800)
    stored = Image.open(io.BytesIO(photo.jpeg)).convert("RGB")
    red, _, blue = stored.getpixel((300, 50))  # type: ignore[misc]
    assert red > 200 and blue < 60
    red, _, blue = stored.getpixel((300, 700))  # type: ignore[misc]
    assert red < 60 and blue > 200
    assert 0x0112 not in stored.getexif()


def test_gps_exif_is_gone_from_the_stored_copy() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SyntheticPhoneMaker"  # Make
    exif[0x0110] = "Model X-123"  # Model
    exif[0x0132] = "2026:01:02 03:04:05"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (21.0, 1.0, 30.0)
    gps[3] = "E"
    gps[4] = (105.0, 51.0, 0.0)
    original = _encode(
        _scene(800, 600),
        exif=exif.tobytes(),
        comment=b"secret comment",
        icc_profile=b"\x00" * 128,
    )
    assert b"SyntheticPhoneMaker" in original
    stored = _ok(check_photo(original)).jpeg
    assert b"Exif" not in stored
    assert b"SyntheticPhoneMaker" not in stored
    assert b"secret comment" not in stored
    assert b"ICC_PROFILE" not in stored
    reopened = Image.open(io.BytesIO(stored))
    assert not reopened.getexif()
    assert set(reopened.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}


def test_a_png_screenshot_with_transparency_is_stored_on_white() -> None:
    im = Image.new("RGBA", (800, 600), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((100, 100, 300, 300), fill=(0, 128, 0, 255))
    photo = _ok(check_photo(_encode(im, "PNG")))
    assert photo.source_format == "PNG"
    stored = Image.open(io.BytesIO(photo.jpeg)).convert("RGB")
    assert min(stored.getpixel((700, 500))) > 245  # type: ignore[type-var]
    assert stored.getpixel((200, 200))[1] > 100  # type: ignore[index]


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "I;16", "1", "LA"])
def test_unusual_pixel_modes_are_stored_as_rgb_jpeg(mode: str) -> None:
    if mode == "I;16":
        im = Image.new("I;16", (800, 600), 40000)
        im.paste(8000, (400, 300, 700, 500))  # something to see: a blank picture is refused
    else:
        im = _scene(800, 600).convert(mode)
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    photo = _ok(check_photo(_encode(im, fmt)))
    stored = Image.open(io.BytesIO(photo.jpeg))
    assert stored.mode == "RGB"
    if mode == "I;16":  # scaled to 8 bits, not clipped to white
        assert 140 < stored.convert("L").getpixel((10, 10)) < 170  # type: ignore[operator]


def test_a_webp_photo_is_accepted() -> None:
    photo = _ok(check_photo(_encode(_scene(800, 600), "WEBP", quality=80)))
    assert (photo.source_format, photo.width) == ("WEBP", 800)


def test_an_iphone_heic_photo_is_accepted() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    buffer = io.BytesIO()
    pillow_heif.from_pillow(_scene(800, 600)).save(buffer, quality=70)
    assert sniff_format(buffer.getvalue()) == "HEIF"
    photo = _ok(check_photo(buffer.getvalue()))
    assert (photo.source_format, photo.width, photo.height) == ("HEIF", 800, 600)
    assert Image.open(io.BytesIO(photo.jpeg)).format == "JPEG"


def test_heic_without_pillow_heif_asks_for_a_jpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photos, "_heif_class", lambda: None)
    heic_header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert _problem(check_photo(heic_header + bytes(64))).reason == "heic_unsupported"


def test_an_avif_is_refused_as_an_unsupported_format() -> None:
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64)
    assert _problem(check_photo(avif)).reason == "unsupported_format"


# --- never raises -------------------------------------------------------------------------

_MAGICS = [
    b"",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
    b"\x00\x00\x00\x18ftypheic",
    b"GIF89a",
]


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(_MAGICS), tail=st.binary(max_size=2048))
def test_any_bytes_give_a_result_never_an_exception(prefix: bytes, tail: bytes) -> None:
    result = check_photo(prefix + tail)
    assert isinstance(result, CheckedPhoto | PhotoProblem)


@pytest.fixture(scope="module")
def small_valid_files() -> list[bytes]:
    scene = _scene(640, 600)
    exif = Image.Exif()
    exif[0x0112] = 6
    return [
        _encode(scene, quality=60, exif=exif.tobytes()),
        _encode(scene, quality=60, progressive=True),
        _encode(scene.convert("P"), "PNG"),
        _encode(scene, "WEBP", quality=50),
    ]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    which=st.integers(0, 3),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0, 1)),
)
def test_mutated_valid_photos_give_a_result_never_an_exception(
    small_valid_files: list[bytes],
    which: int,
    edits: list[tuple[float, int]],
    cut: float | None,
) -> None:
    data = bytearray(small_valid_files[which])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    result = check_photo(bytes(data))
    assert isinstance(result, CheckedPhoto | PhotoProblem)
    if isinstance(result, CheckedPhoto):
        assert result.jpeg[:3] == b"\xff\xd8\xff"


def test_a_telegram_photo_is_stored_as_sent_without_a_second_compression() -> None:
    sent = _encode(_scene(1280, 960), quality=87)  # Telegram's photos: upright JPEG, no EXIF
    photo = _ok(check_photo(sent))
    assert photo.jpeg == sent[:2] + sent[sent.index(b"\xff\xdb") :]  # only JFIF APP0 cut out
    assert (photo.width, photo.height) == (1280, 960)


def test_a_multi_picture_file_keeps_only_the_first_picture_and_no_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SyntheticPhoneMaker"
    first = _encode(_scene(800, 600), exif=exif.tobytes())
    second = _encode(_scene(320, 240), exif=exif.tobytes())  # an MPO's preview or depth map
    stored = _ok(check_photo(first + second)).jpeg
    assert b"SyntheticPhoneMaker" not in stored
    assert stored.endswith(b"\xff\xd9") and stored.count(b"\xff\xd8") == 1
    assert Image.open(io.BytesIO(stored)).size == (800, 600)


def test_metadata_hidden_after_the_first_scan_sends_the_photo_through_re_encoding() -> None:
    from bot.flows.jpeg_metadata import strip_metadata

    data = _encode(_scene(800, 600), progressive=True)
    sos = data.index(b"\xff\xda")
    tail = data.index(b"\xff\xc4", sos)  # a table between two progressive scans
    comment = b"\xff\xfe\x00\x10secret comment"
    hidden = data[:tail] + comment + data[tail:]
    assert strip_metadata(hidden) is None
    stored = _ok(check_photo(hidden)).jpeg
    assert b"secret comment" not in stored


def test_a_photo_made_by_telegram_is_not_decoded_again_but_a_file_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[object] = []
    real_load = photos.JpegImagePlugin.JpegImageFile.load

    def counting_load(self: Image.Image) -> object:
        decoded.append(self)
        return real_load(self)  # type: ignore[arg-type]

    monkeypatch.setattr(photos.JpegImagePlugin.JpegImageFile, "load", counting_load)
    sent = _encode(_scene(1280, 960), quality=87)
    as_photo = _ok(check_photo(sent, channel_encoded=True))
    assert decoded == []
    as_file = _ok(check_photo(sent))
    assert len(decoded) == 1
    assert as_photo == as_file


def test_a_telegram_photo_cut_short_in_download_is_still_refused() -> None:
    sent = _encode(_scene(1280, 960), quality=87)
    cut = sent[: len(sent) // 2]  # no end marker: the structure check catches it
    assert _problem(check_photo(cut, channel_encoded=True)).reason == "truncated"
