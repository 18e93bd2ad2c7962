"""Reading the QR code of an ID or health-insurance card from a photo.

Why zxing-cpp: PERF.md §1 measured it as the best decoder on card photos (91–96 % alone,
1–4 ms), a wheel with no system library, exact UTF-8 bytes; pyzbar needs Debian's
``libzbar0``, is 10–30× slower and mangles UTF-8 without a low-level flag.

The ladder, cheapest first, stopping at the first payload that is a CCCD/BHYT card:

0. for JPEGs with a long side ≥ 2000 px: zxing "fast" on a half-resolution luma decode
   (libjpeg DCT scaling; most HD photos end here at ~8 ms instead of ~12);
1. zxing "fast" flags on the full-resolution (≤ 3264 px) grayscale image;
2. zxing defaults (rotations, downscales, inverted codes);
3. *rescue* for the photos left, which PERF.md found to be blurred or tiny QRs: find the
   QR-like region from a map of gradient density (a QR is the densest patch of edges on a
   card, even blurred), crop it, resample it to ~4 px per module, and try zxing on the
   crop, then on Wiener-deconvolved versions of it — Gaussian blur (defocus) at a few
   strengths and, when the crop's gradient structure tensor says the blur has a direction,
   linear motion blur along that direction. Deconvolution needs the blur size in pixels;
   it is tried in units of the module size estimated from the region's width.

On the synthetic corpus of bench/qr.py (300 photos after PERF.md §1) this reads 99.3 % at
1280 and 2560 px against 91.3 / 94.0 % for PERF.md's ladder; a held-out set of scenes gives
97.3 / 100 %. Caveat: the corpus blurs with the same Gaussian/linear-motion models the
rescue deconvolves; real defocus and hand shake are less tidy, so expect less on real
photos — the honest fallback is still to ask for a closer, steadier shot.

Everything is CPU-bound and releases the GIL inside zxing; callers should run it with
``asyncio.to_thread``. No function here raises on any input bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import zxingcpp
from numpy.typing import NDArray
from PIL import Image

from bot.flows.cards import BhytCard, CccdCard, QrKind, classify_payload, parse_bhyt, parse_cccd
from bot.flows.photos import PhotoProblem, decode_upright, open_image
from bot.flows.sanitize import ascii_digits

_QR: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

# Rescue tuning (see module docstring). Sizes are in modules of the QR being rescued.
_MODULES_ACROSS: Final = 51.0  # typical CCCD QR: version 8 (49 modules) + a bit of margin
_TARGET_PX_PER_MODULE: Final = 4.0
_GAUSS_SIGMAS: Final = (0.5, 0.65, 0.8)
_MOTION_LENGTHS: Final = (1.6, 2.1, 2.7, 3.2)
_WIENER_K: Final = 0.01
_ANISOTROPIC: Final = 0.75  # structure-tensor eigenvalue ratio below which blur is directional
_MAX_CANDIDATES: Final = 2
_MAP_LONG_SIDE: Final = 640  # the gradient-density map is computed at about this size

_DARK_MEAN: Final = 50  # mean luminance (0–255) under which we blame the light
_SMALL_MODULE_PX: Final = 1.5  # below this no decoder reads a QR (PERF.md §1)
_MIN_LONG_SIDE: Final = 500
_QR_MIN_STRENGTH: Final = 2.0  # edge density vs the photo's median, for a region to count
_QR_DARK_SHARE: Final = (0.3, 0.85)
_QR_MIN_FILL: Final = 0.6
_QR_ASPECT: Final = (0.6, 1.7)
_QR_MIN_WINDOWS: Final = 1.2
_HALF_RES_FROM: Final = 2000  # long side from which a half-resolution first try pays off
# Camera originals sent as files (up to 40 MP) are read at most this large, which bounds
# the time; a card filling a third of such a frame still has ≥ 3 px per QR module.
_MAX_WORK_SIDE: Final = 3264


@dataclass(frozen=True)
class CardScan:
    """The outcome of scanning a card photo.

    ``kind``: what the chosen decoded payload is (``None`` if nothing was decoded).
    ``cccd``/``bhyt``: the parsed card, when the payload is one.
    ``raw_kind_hint``: ``"cccd_malformed"``/``"bhyt_malformed"`` when a payload has a card's
    shape (pipe-separated, 12-digit number / ``$`` terminator) but fails validation, so
    the bot can ask the user to type the data instead of re-photographing.
    ``problem``: only when nothing was decoded — ``"too_dark"``, ``"too_small"``,
    ``"blurred"``, ``"no_qr"``, or a :class:`~bot.flows.photos.PhotoProblem` reason
    (``"not_image"``, ``"truncated"``, ``"heic_unsupported"``, …) when the bytes are no
    usable image.
    ``texts``: every payload decoded, in the order found.
    """

    kind: QrKind | None
    cccd: CccdCard | None
    bhyt: BhytCard | None
    raw_kind_hint: str | None
    problem: str | None
    texts: tuple[str, ...] = ()


@dataclass
class _Candidate:
    """A QR-looking region of the photo, in full-resolution pixel coordinates."""

    cx: float
    cy: float
    side: float
    strength: float  # peak gradient density relative to the image's median
    fill: float = 1.0  # share of the region's bounding box that is dense (a QR: most)
    aspect: float = 1.0  # width / height of that box (a QR: about square)
    window: float = 0.0  # smoothing window of the density map, full-resolution pixels

    @property
    def module_px(self) -> float:
        return self.side / _MODULES_ACROSS


@dataclass
class _Reading:
    """Internal result shared by :func:`read_qr_texts` and :func:`scan_card`."""

    texts: list[str] = field(default_factory=list)
    image: Image.Image | None = None
    problem: str | None = None
    candidates: list[_Candidate] = field(default_factory=list)


# --- zxing --------------------------------------------------------------------------------


def _is_card(text: str) -> bool:
    return parse_cccd(text) is not None or parse_bhyt(text) is not None


def _zxing(image: Image.Image | NDArray[np.uint8], reading: _Reading, fast: bool) -> bool:
    """Decode ``image``, add new payloads to ``reading``; True when one is a card."""
    try:
        if fast:
            results = zxingcpp.read_barcodes(
                image, formats=_QR, try_rotate=False, try_downscale=False, try_invert=False
            )
        else:
            results = zxingcpp.read_barcodes(image, formats=_QR)
    except Exception:  # a decoder failure on odd input must not lose the user's turn
        return False
    found = False
    for result in results:
        try:
            text = bytes(result.bytes).decode("utf-8")  # strict: card payloads are UTF-8
        except UnicodeDecodeError:
            text = result.text  # another charset: not a card, but nameable
        if text not in reading.texts:
            reading.texts.append(text)
        found = found or _is_card(text)
    return found


# --- locating the QR in a blurred photo ---------------------------------------------------


def _box_mean(a: NDArray[np.float32], r: int) -> NDArray[np.float32]:
    """Mean over (2r+1)² windows (edges replicated), as two 1-D running sums."""
    width = 2 * r + 1
    padded = np.pad(a, r, mode="edge")
    c = np.zeros((padded.shape[0], padded.shape[1] + 1), dtype=np.float32)
    np.cumsum(padded, axis=1, out=c[:, 1:])
    rows = c[:, width:] - c[:, :-width]
    c2 = np.zeros((rows.shape[0] + 1, rows.shape[1]), dtype=np.float32)
    np.cumsum(rows, axis=0, out=c2[1:])
    return ((c2[width:] - c2[:-width]) / (width * width)).astype(np.float32, copy=False)


def _run(mask: NDArray[np.bool_], i: int) -> tuple[int, int]:
    """First and last index of the run of True values in ``mask`` that contains ``i``."""
    before, after = mask[i::-1], mask[i:]
    first = i - (int(np.argmin(before)) - 1 if not before.all() else i)
    last = i + (int(np.argmin(after)) - 1 if not after.all() else len(after) - 1)
    return first, last


def _extent(m: NDArray[np.float32], x: int, y: int, threshold: float) -> tuple[int, int, int, int]:
    """Left, top, right, bottom of the run of ``m > threshold`` through (x, y)."""
    left, right = _run(m[y] > threshold, x)
    top, bottom = _run(m[:, x] > threshold, y)
    return left, top, right, bottom


def _candidates(image: Image.Image) -> list[_Candidate]:
    """QR-looking regions, strongest first.

    A QR is a square where every few pixels there is a black/white edge; blur lowers the
    edges but keeps them dense. So: mean absolute gradient over windows of ~1/80 of the
    image, take the peak, grow the region where the density stays above half the peak,
    re-centre a few times, and suppress it before looking for the next one.
    """
    factor = max(1, round(max(image.size) / _MAP_LONG_SIDE))
    small = image.reduce(factor) if factor > 1 else image
    a = np.asarray(small, dtype=np.float32)
    if a.shape[0] < 16 or a.shape[1] < 16:
        return []
    grad = np.zeros_like(a)
    grad[:, 1:] += np.abs(np.diff(a, axis=1))
    grad[1:, :] += np.abs(np.diff(a, axis=0))
    radius = max(3, round(max(a.shape) / 80))
    density = _box_mean(grad, radius)
    baseline = float(np.median(density)) + 1.0
    found: list[_Candidate] = []
    for _ in range(_MAX_CANDIDATES):
        flat = int(np.argmax(density))
        y, x = divmod(flat, density.shape[1])
        peak = float(density[y, x])
        if peak <= 0 or (found and peak < 0.6 * found[0].strength * baseline):
            break
        left, top, right, bottom = _extent(density, x, y, peak / 2)
        for _ in range(2):  # re-centre: the peak is often near an edge of the QR
            cx, cy = (left + right) // 2, (top + bottom) // 2
            if density[cy, cx] <= peak / 2:
                break
            x, y = cx, cy
            left, top, right, bottom = _extent(density, x, y, peak / 2)
        width, height = right - left + 1, bottom - top + 1
        side = max(width, height)
        region = density[top : bottom + 1, left : right + 1]
        found.append(
            _Candidate(
                cx=(x + 0.5) * factor,
                cy=(y + 0.5) * factor,
                side=side * factor,
                strength=peak / baseline,
                fill=float((region > peak / 2).mean()),
                aspect=width / height,
                window=(2 * radius + 1) * factor,
            )
        )
        pad = side // 2 + 1
        density[max(0, top - pad) : bottom + pad + 1, max(0, left - pad) : right + pad + 1] = 0
    return found


# --- deconvolution ------------------------------------------------------------------------


def _frequencies(shape: tuple[int, int]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    fy = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    return fx, fy


def _gauss_otf(fx: NDArray[np.float32], fy: NDArray[np.float32], sigma: float) -> NDArray:
    return np.exp(-2.0 * math.pi**2 * sigma**2 * (fx**2 + fy**2))


def _motion_otf(
    fx: NDArray[np.float32], fy: NDArray[np.float32], length: float, angle: float
) -> NDArray:
    return np.sinc(length * (fx * math.cos(angle) + fy * math.sin(angle)))


def _wiener(spectrum: NDArray, otf: NDArray, shape: tuple[int, int], mean: float) -> NDArray:
    restored = np.fft.irfft2(spectrum * otf / (otf * otf + _WIENER_K), s=shape) + mean
    return np.clip(restored, 0, 255).astype(np.uint8)


def _blur_direction(a: NDArray[np.float32]) -> tuple[float, float]:
    """(eigenvalue ratio, motion angle) of the crop's gradient structure tensor.

    A QR's module grid has the same gradient energy in every direction (its tensor is
    isotropic at any rotation), so a clearly smaller eigenvalue means the blur smeared
    edges along that eigenvector: the motion direction.
    """
    gx = np.diff(a, axis=1)[:-1, :]
    gy = np.diff(a, axis=0)[:, :-1]
    tensor = np.array(
        [
            [float((gx * gx).sum()), float((gx * gy).sum())],
            [float((gx * gy).sum()), float((gy * gy).sum())],
        ]
    )
    values, vectors = np.linalg.eigh(tensor)
    if values[1] <= 0:
        return 1.0, 0.0
    return float(values[0] / values[1]), math.atan2(vectors[1, 0], vectors[0, 0])


def _round16(x: float) -> int:
    return max(32, 16 * round(x / 16))


def _rescue(image: Image.Image, cand: _Candidate, reading: _Reading) -> bool:
    """Try to read the QR inside ``cand`` (crop, resample, deconvolve). True on a card."""
    half = cand.side * 0.68  # the region's width is ~the QR's; add its quiet zone + rotation
    box = (
        max(0, int(cand.cx - half)),
        max(0, int(cand.cy - half)),
        min(image.width, int(cand.cx + half)),
        min(image.height, int(cand.cy + half)),
    )
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        return False
    scale = min(3.0, max(0.5, _TARGET_PX_PER_MODULE / max(cand.module_px, 0.1)))
    crop = image.crop(box)
    # Sizes rounded to multiples of 16 keep the FFTs fast (a prime size is ~10× slower).
    size = (_round16(crop.width * scale), _round16(crop.height * scale))
    crop = crop.resize(size, Image.Resampling.BICUBIC)
    if _zxing(crop, reading, fast=False):
        return True
    a = np.asarray(crop, dtype=np.float32)
    mean = float(a.mean())
    spectrum = np.fft.rfft2(a - mean)
    fx, fy = _frequencies(a.shape)
    module = cand.module_px * scale
    ratio, angle = _blur_direction(a)
    motion = [
        _motion_otf(fx, fy, k * module, angle) * _gauss_otf(fx, fy, 0.15 * module)
        for k in _MOTION_LENGTHS
    ]
    gauss = [_gauss_otf(fx, fy, k * module) for k in _GAUSS_SIGMAS]
    otfs = motion + gauss if ratio < _ANISOTROPIC else gauss
    return any(_zxing(_wiener(spectrum, otf, a.shape, mean), reading, fast=True) for otf in otfs)


# --- public API ---------------------------------------------------------------------------


def _read(data: bytes, *, quick: bool = False) -> _Reading:
    """The ladder of the module docstring; ``quick`` stops after its first rung."""
    reading = _Reading()
    opened = open_image(data)  # header only: cheap, and the bomb guard
    if isinstance(opened, PhotoProblem):
        reading.problem = opened.reason
        return reading
    header, fmt = opened
    long_side = max(header.size)
    if fmt == "JPEG" and long_side >= _HALF_RES_FROM:
        # Half-resolution first: libjpeg's DCT scaling decodes it cheaper and zxing runs
        # 4× faster, and on an HD photo the QR still has ≥ 2 px per module there.
        half = decode_upright(data, mode="L", max_long_side=(long_side + 1) // 2)
        if not isinstance(half, PhotoProblem) and _zxing(half[0], reading, fast=True):
            return reading
        if quick:
            return reading
    decoded = decode_upright(data, mode="L", max_long_side=_MAX_WORK_SIDE)
    if isinstance(decoded, PhotoProblem):
        reading.problem = decoded.reason
        return reading
    image, _ = decoded
    reading.image = image
    if _zxing(image, reading, fast=True) or quick or _zxing(image, reading, fast=False):
        return reading
    if reading.texts:
        return reading  # a clearly readable QR that is not a card: name it, don't dig
    try:
        reading.candidates = _candidates(image)
        for cand in reading.candidates:
            if _rescue(image, cand, reading):
                break
    except Exception:  # numerical corner cases must degrade to "not read", never crash
        return reading
    return reading


def read_qr_texts(data: bytes) -> list[str]:
    """Decode the QR payloads in a photo (image bytes in, texts out; never raises).

    Stops at the first payload that is a CCCD or BHYT card; otherwise returns whatever
    was decoded (e.g. a payment QR) so the caller can name the wrong QR. Empty when
    nothing was read or the bytes are no usable image.
    """
    return _read(data).texts


def _hint(texts: list[str]) -> str | None:
    for text in texts:
        parts = text.strip().split("|")
        if len(parts) >= 6 and ascii_digits(parts[0].strip()) and len(parts[0].strip()) == 12:
            return "cccd_malformed"
        if text.strip().endswith("$") and len(parts) >= 4:
            return "bhyt_malformed"
    return None


def _looks_like_qr(image: Image.Image, cand: _Candidate) -> bool:
    """Whether a dense-edge region is plausibly a (blurred) QR rather than printed text.

    A QR is about half dark modules, and stays so under blur; text, guilloche and
    photos of tables are mostly light (measured on the synthetic corpus: 7–25 % dark for
    card regions without a QR, 30–80 % for blurred QRs).
    """
    if (
        cand.strength < _QR_MIN_STRENGTH
        or cand.side < _QR_MIN_WINDOWS * cand.window  # a blob the size of the window: an
        or cand.fill < _QR_MIN_FILL  # edge or a corner, not a square full of edges
        or not _QR_ASPECT[0] <= cand.aspect <= _QR_ASPECT[1]  # a line of text
    ):
        return False
    half = cand.side / 2
    box = (
        max(0, int(cand.cx - half)),
        max(0, int(cand.cy - half)),
        min(image.width, int(cand.cx + half)),
        min(image.height, int(cand.cy + half)),
    )
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        return False
    a = np.asarray(image.crop(box), dtype=np.float32)
    low, high = np.percentile(a, (5, 95))
    if high - low < 16:
        return False
    dark = float((a < (low + high) / 2).mean())
    return _QR_DARK_SHARE[0] <= dark <= _QR_DARK_SHARE[1]


def _diagnose(reading: _Reading) -> str:
    """Say honestly why nothing was read, from cheap image statistics."""
    image = reading.image
    if image is None:
        return reading.problem or "not_image"
    factor = max(1, round(max(image.size) / _MAP_LONG_SIDE))
    small = np.asarray(image.reduce(factor) if factor > 1 else image, dtype=np.float32)
    if float(small.mean()) < _DARK_MEAN:
        return "too_dark"
    if max(image.size) < _MIN_LONG_SIDE:
        return "too_small"
    qr_like = [c for c in reading.candidates if _looks_like_qr(image, c)]
    if not qr_like:
        return "no_qr"
    if any(c.module_px < _SMALL_MODULE_PX for c in qr_like):
        return "too_small"  # a QR-like patch too small to hold readable modules: come closer
    return "blurred"


def scan_card(data: bytes, *, quick: bool = False) -> CardScan:
    """Read a card photo: the parsed card, a wrong QR's kind, or why nothing was read.

    ``quick``: one fast decoding pass and no rescue, ~3 ms for a Telegram photo whether or
    not it shows a QR (the full ladder spends 20–50 ms on a photo without one). For ID
    photos, which need not show the QR: a QR clear enough to read is compared with the
    ID number typed; nothing is asked of the photo when none is read (``problem`` is
    then ``"no_qr"`` without a diagnosis).
    """
    reading = _read(data, quick=quick)
    for text in reading.texts:
        cccd = parse_cccd(text)
        bhyt = None if cccd else parse_bhyt(text)
        if cccd or bhyt:
            return CardScan(
                kind="cccd" if cccd else "bhyt",
                cccd=cccd,
                bhyt=bhyt,
                raw_kind_hint=None,
                problem=None,
                texts=tuple(reading.texts),
            )
    if reading.texts:
        return CardScan(
            kind=classify_payload(reading.texts[0]),
            cccd=None,
            bhyt=None,
            raw_kind_hint=_hint(reading.texts),
            problem=None,
            texts=tuple(reading.texts),
        )
    problem = "no_qr" if quick and reading.problem is None else _diagnose(reading)
    return CardScan(kind=None, cccd=None, bhyt=None, raw_kind_hint=None, problem=problem)
