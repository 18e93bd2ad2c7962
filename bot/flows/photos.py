"""Checking and cleaning the photos users send (ID cards, portraits, birth certificates).

Why this module exists:

* Photos arrive as untrusted bytes: a Telegram ``PhotoSize`` (JPEG, ≤2560 px) or a document
  of up to 20 MB in any format. A 700-byte JPEG can claim 13000×13000 pixels and make Pillow
  allocate 0.6 GB (PERF.md §5), and Pillow's own bomb guard only *warns* below 2× its limit.
  So the declared size is checked right after the header is parsed, before any decoding.
* Stored copies must not leak the phone's metadata (GPS position, device, time). An upright
  JPEG of at most 2560 px (every Telegram photo) is kept as sent with its metadata segments
  cut out (``jpeg_metadata``): no second compression, a quarter of the CPU. Anything else is
  re-encoded from pixels only, with the EXIF orientation applied first so it is upright
  without needing the EXIF tag we drop.
* A file can end properly yet hold next to nothing (a header claiming 4000×3000 before
  2 KB decodes to grey without an error), and a picture can show nothing at all (a lens
  cap, a blank wall): both are refused as ``unreadable``, by a byte count and the
  brightness spread of a small sample, well under a millisecond.
* Stored copies do not need more than 2560 px; JPEG DCT scaling (``draft``) makes decoding a
  big photo for that ~7× cheaper than decoding it in full and resizing (PERF.md §5).

The module never raises on any input: every outcome is a :class:`CheckedPhoto` or a
:class:`PhotoProblem` whose ``reason`` is a code the handlers turn into a localised sentence.

Pillow's global registry is not touched: the format is sniffed from magic bytes and the
matching plugin class is instantiated directly. That skips ``Image.open``'s global
decompression-bomb check (so no ``DecompressionBombWarning`` can ever be emitted from here,
whatever the process-wide ``Image.MAX_IMAGE_PIXELS`` or warning filters are) and replaces it
with this module's stricter :data:`MAX_PIXELS` check. ``ImageFile.LOAD_TRUNCATED_IMAGES`` must
stay off (its default) so that cut-off uploads are reported as ``"truncated"``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Final, Literal

from PIL import (
    Image,
    ImageFile,
    ImageStat,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from bot.flows.jpeg_metadata import strip_metadata

MAX_FILE_BYTES: Final = 20 * 1024 * 1024
"""Telegram bots can download at most 20 MB; anything bigger never reaches us intact."""

MIN_SIDE: Final = 600
"""Below this a card photo is too coarse to read its text (and its QR, ~1.9 px/module)."""

MAX_PIXELS: Final = 40_000_000
"""Above any phone camera we expect (a 200 MP sensor bins to ≤50 MP; most are ≤ 12–24 MP)
while capping a decode at ~120 MB of RGB."""

STORED_LONG_SIDE: Final = 2560
"""Telegram's own "HD" limit: more resolution than that is never useful to the agency.
Larger photos are halved (quartered…) until they fit, so they are stored at 1281–2560 px."""

STORED_JPEG_QUALITY: Final = 90

MIN_BYTES_PER_PIXEL: Final = {"JPEG": 0.005}
"""Fewer bytes than this per declared pixel cannot hold a picture: a JPEG codes every 8×8
block, and even a uniform one takes ≥ 0.006 B/px (optimised, progressive; 0.016 baseline),
real photos 0.03–0.3. A header claiming 4000×3000 in front of 2 KB is decoded without a
word, the missing part filled with grey. Lossless and newer codecs compress flat areas
much further, so for them only :data:`MIN_BYTES_PER_PIXEL_OTHER` is asked."""

MIN_BYTES_PER_PIXEL_OTHER: Final = 0.0005

MAY_BE_BLANK_BYTES_PER_PIXEL: Final = 0.04
"""A JPEG this light may show nothing at all: one colour costs 0.016–0.028 B/px whatever the
quality or colour (a baseline 8×8 block that is all DC still takes a few bits), while the
photos of cards measured 0.07–0.24 and portraits more. A Telegram photo under it is looked
at (its 1/8-scale picture) before it is kept; heavier ones are kept unseen, as before."""

UNIFORM_STDDEV: Final = 5.0
"""Below this standard deviation of brightness (0–255) a picture shows nothing: a lens cap,
a blank wall, a grey fill. Every photo of a card or a face measured 30–80."""

_UNIFORM_SAMPLE: Final = 256  # long side of the sample the deviation is measured on

PhotoReason = Literal[
    "not_image",
    "truncated",
    "unreadable",
    "too_many_pixels",
    "too_small",
    "file_too_big",
    "heic_unsupported",
    "unsupported_format",
]

SourceFormat = Literal["JPEG", "PNG", "WEBP", "HEIF"]


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo that passed the checks, as it will be stored.

    ``jpeg`` holds only pixels (no EXIF/GPS/XMP/ICC/comment), upright, long side ≤ 2560.
    ``width``/``height`` describe ``jpeg``.
    """

    jpeg: bytes
    width: int
    height: int
    source_format: SourceFormat = "JPEG"


@dataclass(frozen=True)
class PhotoProblem:
    """Why a photo was refused: a reason code plus numbers the message template may show.

    ``unreadable``: too few bytes for the declared size, or a near-uniform picture.
    ``detail`` keys by reason: ``too_small`` → width, height, min_side; ``too_many_pixels``
    → width, height, max_pixels; ``file_too_big`` → size_bytes, max_mb; ``unsupported_format``
    → format (a short name such as ``"GIF"``).
    """

    reason: PhotoReason
    detail: dict[str, int | str] = field(default_factory=dict)


# --- format sniffing ----------------------------------------------------------------------

_HEIF_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)

# Image formats we recognise but refuse, so the user hears "send a JPG" rather than
# "this is not a picture". Checked after the accepted formats.
_OTHER_IMAGE_MAGIC: Final[tuple[tuple[bytes, int, str], ...]] = (
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"\x00\x00\x01\x00", 0, "ICO"),
    (b"8BPS", 0, "PSD"),
    (b"\x00\x00\x00\x0cjP  ", 0, "JPEG2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG2000"),
    (b"\xff\x0a", 0, "JXL"),
    (b"\x00\x00\x00\x0cJXL ", 0, "JXL"),
)


def sniff_format(data: bytes) -> SourceFormat | str | None:
    """Name the container from its magic bytes.

    Returns one of the accepted :data:`SourceFormat` names, another image format's name
    (refused as ``unsupported_format``), or ``None`` when the bytes are no image we know.
    Why not trust the file name or Telegram's MIME type: both come from the sender.
    """
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "HEIF"
        if brand in (b"avif", b"avis"):
            return "AVIF"
    for magic, offset, name in _OTHER_IMAGE_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    return None


@cache
def _heif_class() -> type[ImageFile.ImageFile] | None:
    """pillow-heif's plugin class, imported on first need (it is optional at run time)."""
    try:
        from pillow_heif.as_plugin import HeifImageFile  # noqa: PLC0415
    except Exception:  # ImportError, or a broken native library
        return None
    cls: type[ImageFile.ImageFile] = HeifImageFile
    return cls


def _plugin_for(fmt: SourceFormat) -> Callable[[io.BytesIO], ImageFile.ImageFile] | None:
    if fmt == "JPEG":
        # Not ``jpeg_factory``: that may warn about malformed MPO data; the first frame of
        # an MPO (phones' multi-picture JPEGs) is the ordinary JPEG we want anyway.
        return JpegImagePlugin.JpegImageFile
    if fmt == "PNG":
        return PngImagePlugin.PngImageFile
    if fmt == "WEBP":
        return WebPImagePlugin.WebPImageFile
    return _heif_class()


# --- opening and decoding -----------------------------------------------------------------

_TRUNCATION_HINTS: Final = ("truncat", "end of file", "insufficient input", "premature end")


def _looks_truncated(fmt: SourceFormat, data: bytes, exc: BaseException) -> bool:
    """Tell a cut-off upload from garbage when the header itself could not be parsed."""
    if isinstance(exc, EOFError):
        return True
    if any(hint in str(exc).lower() for hint in _TRUNCATION_HINTS):
        return True
    if fmt == "WEBP" and len(data) >= 12:
        # libwebp only says "could not create decoder object"; the RIFF header says how
        # long the file should be.
        declared = int.from_bytes(data[4:8], "little") + 8
        return declared > len(data)
    return False


def open_image(data: bytes) -> tuple[ImageFile.ImageFile, SourceFormat] | PhotoProblem:
    """Parse the header of ``data`` (no pixel decoding) and enforce the size limits.

    Shared with the QR reader so both paths get the same bomb guard. The returned image is
    lazy: call ``draft``/``load`` on it.
    """
    if len(data) > MAX_FILE_BYTES:
        return PhotoProblem(
            "file_too_big", {"size_bytes": len(data), "max_mb": MAX_FILE_BYTES // (1024 * 1024)}
        )
    fmt = sniff_format(data)
    if fmt is None:
        return PhotoProblem("not_image")
    if fmt not in ("JPEG", "PNG", "WEBP", "HEIF"):
        return PhotoProblem("unsupported_format", {"format": fmt})
    source: SourceFormat = fmt  # type: ignore[assignment]  # narrowed by the test above
    plugin = _plugin_for(source)
    if plugin is None:
        return PhotoProblem("heic_unsupported")
    try:
        im = plugin(io.BytesIO(data))
    except Image.DecompressionBombError:
        return PhotoProblem("too_many_pixels", {"max_pixels": MAX_PIXELS})
    except Exception as exc:  # Pillow raises many types on hostile headers; never propagate.
        return PhotoProblem("truncated" if _looks_truncated(source, data, exc) else "not_image")
    width, height = im.size
    if width * height > MAX_PIXELS:
        return PhotoProblem(
            "too_many_pixels", {"width": width, "height": height, "max_pixels": MAX_PIXELS}
        )
    if width <= 0 or height <= 0:
        return PhotoProblem("not_image")
    return im, source


_ORIENTATION_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _exif_orientation(im: Image.Image) -> int:
    """EXIF orientation tag (1 = upright); a malformed EXIF block counts as upright."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # corrupt EXIF must not cost the user their photo
        return 1
    return value if isinstance(value, int) else 1


def _to_mode(im: Image.Image, mode: Literal["RGB", "L"]) -> Image.Image:
    """Convert any Pillow mode to 8-bit ``mode``; transparency is flattened onto white
    (a transparent PNG screenshot of a card would otherwise turn black)."""
    if im.mode == mode:
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit PNGs: scale down instead of clipping everything above 255 to white.
        scaled = im.convert("I").point(lambda v: v / 256) if im.mode != "F" else im
        return scaled.convert("L").convert(mode) if mode == "RGB" else scaled.convert("L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert(mode)
    return im.convert(mode)


def _shrink_factor(long_side: int, max_long_side: int | None) -> int:
    """Smallest power of two that brings ``long_side`` to at most ``max_long_side``."""
    factor = 1
    if max_long_side is not None and max_long_side > 0:
        while -(-long_side // factor) > max_long_side:
            factor *= 2
    return factor


def _too_sparse(size_bytes: int, width: int, height: int, fmt: SourceFormat) -> bool:
    """Too few bytes for the declared size (:data:`MIN_BYTES_PER_PIXEL`): no picture in it."""
    floor = MIN_BYTES_PER_PIXEL.get(fmt, MIN_BYTES_PER_PIXEL_OTHER)
    return size_bytes < floor * width * height


def _flat(gray_histogram: list[int]) -> bool:
    """The brightness hardly varies (:data:`UNIFORM_STDDEV`): the picture shows nothing."""
    return bool(ImageStat.Stat(gray_histogram).stddev[0] < UNIFORM_STDDEV)


def _near_uniform(image: Image.Image) -> bool:
    """:func:`_flat`, measured on a nearest-neighbour sample of at most ~256 px a side:
    0.2 ms for a 2560-px photo, against 2.5 ms for a box-filtered one, and plenty to tell
    a picture from none."""
    step = max(1, max(image.size) // _UNIFORM_SAMPLE)
    if step > 1:
        size = (max(1, image.width // step), max(1, image.height // step))
        image = image.resize(size, Image.Resampling.NEAREST)
    return _flat(image.convert("L").histogram())


def decode_upright(
    data: bytes,
    *,
    mode: Literal["RGB", "L"] = "RGB",
    max_long_side: int | None = None,
    min_side: int = 0,
    refuse_sparse: bool = False,
) -> tuple[Image.Image, SourceFormat] | PhotoProblem:
    """Decode ``data`` to an upright ``mode`` image, never raising.

    ``max_long_side``: shrink by the smallest power of two (1, 2, 4, 8…) that brings the long
    side to at most this, so a larger image comes out between half of it and it. Why powers
    of two: libjpeg decodes JPEGs directly at 1/2, 1/4, 1/8 scale (DCT scaling, ~2.5× cheaper
    than a full decode), other formats use ``reduce`` (a box filter), and no slow
    resampling is ever needed — a 12 MP photo costs ~30 ms instead of ~220 ms on the
    project's VM. ``None`` keeps full resolution. ``min_side`` refuses small images before
    decoding them; ``refuse_sparse`` refuses files too small for their declared size
    (checked once decoded, so that an upload cut short is still called ``truncated``).
    """
    opened = open_image(data)
    if isinstance(opened, PhotoProblem):
        return opened
    im, fmt = opened
    width, height = im.size
    if min(width, height) < min_side:
        return PhotoProblem("too_small", {"width": width, "height": height, "min_side": min_side})
    try:
        orientation = _exif_orientation(im)
        scale = _shrink_factor(max(width, height), max_long_side)
        if fmt == "JPEG":
            # (w // s, h // s) makes Pillow pick exactly scale s; "L" also makes libjpeg skip
            # the colour conversion entirely.
            im.draft(mode, (width // scale, height // scale) if scale > 1 else None)
        im.load()
    except Image.DecompressionBombError:
        return PhotoProblem("too_many_pixels", {"max_pixels": MAX_PIXELS})
    except Exception:  # the header was fine, the pixel data was not: cut off or damaged
        return PhotoProblem("truncated")
    # After decoding, so that an upload cut short is still called "truncated": this is
    # for files that end properly yet hold next to nothing (the decoder fills in grey).
    if refuse_sparse and _too_sparse(len(data), width, height, fmt):
        return PhotoProblem("unreadable")
    try:
        if im.size[0] * im.size[1] > MAX_PIXELS:  # HEIF may only know its size after decoding
            return PhotoProblem("too_many_pixels", {"max_pixels": MAX_PIXELS})
        out: Image.Image = _to_mode(im, mode)
        rest = _shrink_factor(max(out.size), max_long_side)  # what DCT scaling did not do
        if rest > 1:
            out = out.reduce(rest)
        method = _ORIENTATION_TRANSPOSE.get(orientation)
        if method is not None:
            out = out.transpose(method)
    except Exception:  # exotic modes/palettes that Pillow cannot convert
        return PhotoProblem("not_image")
    # No ``close()``: ``out`` may be ``im`` itself, and a BytesIO needs no closing.
    return out, fmt


def _kept_as_sent(data: bytes, *, channel_encoded: bool) -> CheckedPhoto | None:
    """The upload itself minus its metadata, when it already is what we would store.

    Telegram photos are exactly that: upright JPEGs of at most 2560 px without EXIF. Storing
    their compressed data as it came, instead of decoding and re-encoding it (~6 ms at
    1000×750), keeps the quality the citizen sent. ``None`` sends the photo down the
    decoding path, which also names any problem.

    Whether the compressed pixels are intact is proved by decoding them at 1/8 scale
    (~1.5 ms, still every coded byte), except for ``channel_encoded`` bytes: a photo sent
    as a photo is re-encoded by Telegram's own servers, so decoding it would only check
    Telegram's encoder, at most of a photo's cost (``bench/flow.py``: ~1,400 against
    ~1,600 steps/s). A download cut short still fails the structure check (no end
    marker), and a file too small for its declared size the byte count. Files sent as
    documents come unchanged from the citizen's phone and are always decoded (and their
    1/8-scale picture checked for showing anything); so are Telegram photos light enough
    to be a single colour (:data:`MAY_BE_BLANK_BYTES_PER_PIXEL`), rare among real ones.
    """
    if len(data) > MAX_FILE_BYTES or sniff_format(data) != "JPEG":
        return None
    try:
        original = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
        width, height = original.size
        if (
            original.mode != "RGB"
            or min(width, height) < MIN_SIDE
            or max(width, height) > STORED_LONG_SIDE
            or _exif_orientation(original) != 1
            or _too_sparse(len(data), width, height, "JPEG")
        ):
            return None
        stripped = strip_metadata(data)
        if stripped is None:
            return None
        if not channel_encoded or len(data) < MAY_BE_BLANK_BYTES_PER_PIXEL * width * height:
            stored = JpegImagePlugin.JpegImageFile(io.BytesIO(stripped))
            # Decoding at 1/8 scale still reads every coded byte, so a cut-off or damaged
            # file fails here as it would in a full decode.
            stored.draft("L", (width // 8, height // 8))
            stored.load()
            # The 1/8-scale picture is at hand: its histogram tells whether it shows
            # anything (``im``: it is decoded already, no second ``load``).
            if stored.mode != "L" or _flat(stored.im.histogram()):
                return None
    except Exception:  # any doubt: the decoding path decides and explains
        return None
    return CheckedPhoto(jpeg=stripped, width=width, height=height, source_format="JPEG")


def check_photo(data: bytes, *, channel_encoded: bool = False) -> CheckedPhoto | PhotoProblem:
    """Validate an uploaded photo and produce the copy the bot stores.

    Order matters for cost: file size, then magic bytes, then the header's declared size,
    and only then decoding — so hostile or wrong files are refused in well under a
    millisecond of work and without allocating their pixels. A file too small for its
    declared size, or a picture that shows nothing, is refused as ``unreadable``.
    ``channel_encoded``: the bytes were made by the channel itself (a Telegram photo), see
    ``_kept_as_sent``.
    """
    kept = _kept_as_sent(data, channel_encoded=channel_encoded)
    if kept is not None:
        return kept
    decoded = decode_upright(
        data, mode="RGB", max_long_side=STORED_LONG_SIDE, min_side=MIN_SIDE, refuse_sparse=True
    )
    if isinstance(decoded, PhotoProblem):
        return decoded
    image, fmt = decoded
    if _near_uniform(image):
        return PhotoProblem("unreadable")
    try:
        # A fresh info dict: Pillow copies ``info["comment"]`` into new JPEGs by default,
        # and nothing from the upload's metadata may reach the stored copy.
        image.info = {}
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=STORED_JPEG_QUALITY)
    except Exception:
        return PhotoProblem("not_image")
    return CheckedPhoto(
        jpeg=buffer.getvalue(), width=image.size[0], height=image.size[1], source_format=fmt
    )
