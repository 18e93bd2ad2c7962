"""Synthetic photos of ID / health-insurance cards for QR tests and the decoder benchmark.

Built after the method of shared/PERF.md §1 (whose corpus is kept private as an independent
test set): an 85.6×54 mm card drawn at 30 px/mm with guilloche lines, header, emblem,
portrait and fields, a 16 mm QR (symbol width, plus a 2-module white margin) in the top-right
corner; the card is area-averaged to its on-screen size, warped (rotation, keystone) onto a
cluttered "table" in a 4:3 frame, then lit, blurred, noised and JPEG-encoded at the final
size. Every payload is a random *synthetic* record — never a real person's data.

Deterministic: the same (seed, bucket, long_side, kind) always yields the same bytes
(``random.Random`` seeded with a string, NumPy ``default_rng`` seeded from it).
Parameters are in 1280-px units and scaled with the long side, as in PERF.md.
"""

from __future__ import annotations

import io
import math
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache

import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFilter, ImageFont

BUCKETS: tuple[str, ...] = (
    "clean",
    "small_card",
    "rot_0_30",
    "rot_90_180",
    "perspective",
    "blur",
    "noise_light",
    "jpeg70",
    "combined",
    "qr_only",
)
SIZES: tuple[int, ...] = (1280, 2560)

PX_PER_MM = 30
CARD_MM = (85.6, 54.0)
QR_MM = 16.0
CARD_PX = (round(CARD_MM[0] * PX_PER_MM), round(CARD_MM[1] * PX_PER_MM))
QR_PX = round(QR_MM * PX_PER_MM)

# --- synthetic records --------------------------------------------------------------------

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE = [
    "Văn",
    "Thị",
    "Hữu",
    "Đức",
    "Minh",
    "Ngọc",
    "Thanh",
    "Quốc",
    "Thu",
    "Xuân",
    "Thị Bích",
    "Văn Hoàng",
    "Thị Thanh",
    "Công",
    "Bảo",
]
GIVEN = [
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Giang",
    "Hà",
    "Hương",
    "Khánh",
    "Linh",
    "Mai",
    "Ngọc",
    "Phúc",
    "Quyên",
    "Sơn",
    "Thủy",
    "Trung",
    "Uyên",
    "Việt",
    "Yến",
    "Đức",
    "Ánh",
    "Hòa",
    "Tuấn Anh",
    "Phương Thảo",
    "Nhật Minh",
    "Hoàng Long",
    "Thị Thu Trang",
    "Bảo Châu",
]
STREETS = [
    "Thôn 4 Thủ Trại",
    "Tổ 10 Ấp An Thái",
    "Số 5 Lạch Tray",
    "Số 12 phố Đội Cấn",
    "Xóm Đông, Thôn Trung",
    "Số 37/2 Đường Nguyễn Thị Minh Khai",
    "Khu phố 3",
    "Ấp Bình Hòa",
    "Tổ dân phố 7",
    "Số 108 Trần Hưng Đạo",
    "Số 2 ngõ 15 Hoàng Quốc Việt",
    "Thôn Phú Mỹ",
]
# (ward, district, province, CCCD prefix)
PLACES = [
    ("Phúc Hòa", "Phúc Thọ", "Hà Nội", "001"),
    ("Đằng Giang", "Ngô Quyền", "Hải Phòng", "031"),
    ("Hòa Bình", "Chợ Mới", "An Giang", "089"),
    ("Phường Tân Định", "Quận 1", "Thành phố Hồ Chí Minh", "079"),
    ("Thủy Xuân", "Thành phố Huế", "Thừa Thiên Huế", "046"),
    ("Nghĩa Đô", "Cầu Giấy", "Hà Nội", "001"),
    ("Xuân Thành", "Nghi Xuân", "Hà Tĩnh", "042"),
    ("Tân An", "Ninh Kiều", "Cần Thơ", "092"),
    ("Hải Châu I", "Hải Châu", "Đà Nẵng", "048"),
    ("Quảng Thành", "Quảng Xương", "Thanh Hóa", "038"),
]


@dataclass(frozen=True)
class Record:
    """A synthetic person, with what both card kinds need."""

    id_number: str
    old_id: str
    name: str
    birth: date
    gender: str  # "male" / "female"
    address: str
    issued: date
    bhxh: str
    new_card: bool


def _rand_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def synthetic_record(rng: random.Random) -> Record:
    """A random, internally consistent (number ↔ birth year/gender) synthetic person."""
    birth = _rand_date(rng, date(1940, 1, 1), date(2012, 12, 31))
    gender = rng.choice(["male", "female"])
    given = rng.choice(GIVEN)
    name = " ".join((rng.choice(FAMILY), rng.choice(MIDDLE), given))
    ward, district, province, prefix = rng.choice(PLACES)
    if rng.random() < 0.8:  # some cards print the unit types, most do not (DOMAIN §1.2)
        ward = ward if ward.startswith("Phường") else f"Xã {ward}"
        district = (
            district
            if district[0].isupper() and district.startswith(("Quận", "Thành"))
            else f"Huyện {district}"
        )
        province = province if province.startswith("Thành phố") else f"Tỉnh {province}"
    address = ", ".join((rng.choice(STREETS), ward, district, province))
    digit = (birth.year // 100 - 19) * 2 + (gender == "female")
    id_number = f"{prefix}{digit}{birth.year % 100:02d}{rng.randrange(1_000_000):06d}"
    old_id = "" if rng.random() < 0.3 else f"{rng.randrange(10**8, 10**9)}"
    issued = _rand_date(rng, date(2021, 1, 1), date(2026, 6, 30))
    bhxh = f"{rng.randrange(10**9, 10**10)}"
    return Record(
        id_number,
        old_id,
        name,
        birth,
        gender,
        address,
        issued,
        bhxh,
        new_card=issued >= date(2024, 7, 1),
    )


def cccd_payload(r: Record) -> str:
    """The CCCD QR layout of DOMAIN §1.2 (2024+ cards end with four empty fields)."""
    fields = [
        r.id_number,
        r.old_id,
        r.name,
        r.birth.strftime("%d%m%Y"),
        "Nam" if r.gender == "male" else "Nữ",
        r.address,
        r.issued.strftime("%d%m%Y"),
    ]
    if r.new_card:
        fields += ["", "", "", ""]
    return "|".join(fields)


def bhyt_payload(r: Record, rng: random.Random) -> str:
    """The BHYT QR layout of DOMAIN §2.1: new 16-field form or old 9-field form."""
    dmy = "%d/%m/%Y"
    start = _rand_date(rng, date(2019, 1, 1), date(2026, 1, 1))
    new_form = rng.random() < 0.6
    card = (
        r.bhxh
        if new_form
        else f"{rng.choice(['HS', 'DN', 'TE', 'HT', 'GD'])}4{r.id_number[1:3]}{r.bhxh}"
    )
    fields = [
        card,
        r.name.encode().hex(),
        r.birth.strftime(dmy),
        "1" if r.gender == "male" else "2",
        "-" if new_form else r.address.encode().hex(),
        f"{r.id_number[1:3]} - {rng.randrange(1, 300):03d}",
        start.strftime(dmy),
        "-" if new_form else date(start.year, 12, 31).strftime(dmy),
        start.strftime(dmy),
    ]
    if new_form:
        fields += [
            f"0105{r.bhxh}",
            "-",
            "4",
            date(start.year + 5, 1, 1).strftime(dmy),
            f"{rng.getrandbits(64):016x}-{rng.getrandbits(16):04x}",
            "4",
            ", ".join(r.address.split(", ")[-2:]).encode().hex(),
        ]
    return "|".join([*fields, "$"])


# --- photo parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """Everything that shapes one photo; lengths in 1280-px units (scaled with size)."""

    card_frac: float = 0.7  # card width / frame width (QR height / frame height for qr_only)
    rotation: float = 0.0  # degrees
    keystone: float = 0.0  # relative narrowing of one edge
    blur_sigma: float = 0.5
    motion: float = 0.0  # motion-blur length
    noise: float = 2.0
    light: float = 1.0  # darkest multiplier of the lighting pattern
    light_kind: str = "gradient"  # gradient | vignette | shadow
    quality: int = 85
    turn: int = 0  # whole photo turned by 0/90/180/270
    qr_only: bool = False
    exposure: float = 1.0  # global brightness multiplier (tests: photos taken in the dark)
    with_qr: bool = True  # False: the same card without its QR (tests: "no QR" photos)


def bucket_params(bucket: str, rng: random.Random) -> Params:
    """PERF.md §1: a common baseline, each bucket changing one factor (combined: all)."""
    base = Params(
        card_frac=rng.uniform(0.55, 0.85),
        rotation=rng.uniform(-4, 4),
        keystone=rng.uniform(0, 0.02),
        blur_sigma=0.5,
        noise=2.0,
        light=rng.uniform(0.85, 1.0),
        light_kind="gradient",
        quality=rng.randint(80, 90),
    )
    sign = rng.choice((-1, 1))
    if bucket == "clean":
        return replace(base, card_frac=rng.uniform(0.70, 0.90), quality=90)
    if bucket == "small_card":
        return replace(base, card_frac=rng.uniform(0.40, 0.55))
    if bucket == "rot_0_30":
        return replace(base, rotation=sign * rng.uniform(5, 30))
    if bucket == "rot_90_180":
        return replace(base, turn=rng.choice((90, 180, 270)))
    if bucket == "perspective":
        return replace(base, keystone=rng.uniform(0.06, 0.15))
    if bucket == "blur":
        if rng.random() < 0.5:
            return replace(base, blur_sigma=rng.uniform(1.0, 2.0))
        return replace(base, motion=rng.uniform(3.0, 7.0))
    if bucket == "noise_light":
        return replace(
            base,
            noise=rng.uniform(4, 10),
            light=rng.uniform(0.45, 0.80),
            light_kind=rng.choice(("gradient", "vignette", "shadow")),
        )
    if bucket == "jpeg70":
        return replace(base, quality=70)
    if bucket == "combined":
        motion = rng.random() < 0.3
        return replace(
            base,
            card_frac=rng.uniform(0.45, 0.80),
            rotation=sign * rng.uniform(0, 20),
            keystone=rng.uniform(0, 0.08),
            blur_sigma=0.5 if motion else rng.uniform(0.5, 1.3),
            motion=rng.uniform(2.0, 4.0) if motion else 0.0,
            noise=rng.uniform(2, 6),
            light=rng.uniform(0.6, 0.95),
            light_kind=rng.choice(("gradient", "vignette", "shadow")),
            quality=rng.randint(70, 90),
            turn=rng.choice((0, 0, 90, 180, 270)),
        )
    if bucket == "qr_only":
        return replace(
            base,
            qr_only=True,
            card_frac=rng.uniform(0.60, 0.87),
            rotation=rng.uniform(-30, 30),
            keystone=0.0,
        )
    raise ValueError(f"unknown bucket {bucket!r}")


# --- drawing ------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    """Printed fields are decoration: strip diacritics so the bundled font renders them."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


@cache
def _card_template(kind: str) -> Image.Image:
    """The static part of a card (background, guilloche, header, emblem), drawn once."""
    w, h = CARD_PX
    tint = (226, 236, 244) if kind == "cccd" else (232, 244, 232)
    card = Image.new("RGB", (w, h), tint)
    draw = ImageDraw.Draw(card)
    rng = random.Random(f"template:{kind}")
    for i in range(70):  # guilloche-like wavy lines
        amp, period, phase = rng.uniform(20, 70), rng.uniform(300, 900), rng.uniform(0, 6.3)
        y0 = i * h / 70
        pts = [(x, y0 + amp * math.sin(x / period * 6.283 + phase)) for x in range(0, w + 40, 40)]
        shade = rng.randint(170, 215)
        draw.line(pts, fill=(shade, shade + 15 if shade < 240 else shade, 235), width=3)
    draw.ellipse((90, 80, 330, 320), fill=(200, 30, 35))  # emblem
    draw.regular_polygon((210, 200, 80), 5, rotation=90, fill=(250, 210, 40))
    header = "CONG HOA XA HOI CHU NGHIA VIET NAM"
    draw.text((420, 80), header, font=_font(62), fill=(30, 30, 30))
    draw.text((420, 160), "Doc lap - Tu do - Hanh phuc", font=_font(54), fill=(30, 30, 30))
    title = "CAN CUOC CONG DAN" if kind == "cccd" else "THE BAO HIEM Y TE"
    draw.text((560, 260), title, font=_font(90), fill=(170, 20, 20))
    return card


def _qr_image(payload: str) -> tuple[Image.Image, int]:
    """The QR symbol (ECL M, byte mode, no ECI) scaled to 16 mm, with a 2-module margin.

    Returns the image (white margin included) and the module count of the symbol.
    """
    qr = segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
    modules = qr.symbol_size(border=0)[0]
    matrix = np.array([list(row) for row in qr.matrix], dtype=bool)
    symbol = Image.fromarray(np.where(matrix, 0, 255).astype(np.uint8), "L")
    symbol = symbol.resize((QR_PX, QR_PX), Image.Resampling.NEAREST)
    margin = round(2 * QR_PX / modules)
    framed = Image.new("L", (QR_PX + 2 * margin, QR_PX + 2 * margin), 255)
    framed.paste(symbol, (margin, margin))
    return framed, modules


def _draw_card(
    rec: Record, payload: str, kind: str, rng: random.Random, with_qr: bool = True
) -> tuple[Image.Image, int]:
    card = _card_template(kind).copy()
    draw = ImageDraw.Draw(card)
    w, h = card.size
    # portrait
    draw.rectangle((110, 420, 640, 1110), fill=(rng.randint(150, 200),) * 3)
    draw.ellipse((250, 500, 500, 800), fill=(rng.randint(90, 140), 80, 70))
    draw.ellipse((170, 800, 580, 1200), fill=(40, 50, rng.randint(60, 120)))
    draw.rectangle((110, 1110, 640, 1250), fill=card.getpixel((700, 1300)))
    # fields
    font, small = _font(60), _font(44)
    number = rec.id_number if kind == "cccd" else rec.bhxh
    lines = [
        ("So / No.:", number),
        ("Ho va ten / Full name:", _ascii(rec.name).upper()),
        ("Ngay sinh / Date of birth:", rec.birth.strftime("%d/%m/%Y")),
        ("Gioi tinh / Sex:", "Nam" if rec.gender == "male" else "Nu"),
        ("Noi thuong tru / Place of residence:", _ascii(rec.address)),
    ]
    y = 440
    for label, value in lines:
        draw.text((700, y), label, font=small, fill=(60, 60, 60))
        draw.text((700, y + 52), value[:48], font=font, fill=(10, 10, 10))
        y += 150
    qr, modules = _qr_image(payload)
    # QR symbol's right edge ~4 mm from the card edge, top ~12 mm from the top.
    margin = (qr.size[0] - QR_PX) // 2
    if with_qr:
        card.paste(qr.convert("RGB"), (w - 4 * PX_PER_MM - QR_PX - margin, 12 * PX_PER_MM - margin))
    return card, modules


def _table(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A cluttered table: wood-ish base, grain, objects, papers with text."""
    w, h = size
    base = (rng.randint(90, 170), rng.randint(70, 130), rng.randint(40, 100))
    im = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(im)
    for _ in range(40):  # grain
        y = rng.uniform(0, h)
        c = tuple(max(0, min(255, v + rng.randint(-25, 25))) for v in base)
        draw.line((0, y, w, y + rng.uniform(-h / 8, h / 8)), fill=c, width=max(1, w // 400))
    for _ in range(12):  # objects
        x0, y0 = rng.uniform(-w / 4, w), rng.uniform(-h / 4, h)
        x1, y1 = x0 + rng.uniform(w / 20, w / 3), y0 + rng.uniform(h / 20, h / 3)
        color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=color)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=color)
    for _ in range(3):  # bits of printed paper
        x0, y0 = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
        draw.rectangle((x0, y0, x0 + w / 5, y0 + h / 6), fill=(240, 240, 235))
        for k in range(5):
            draw.text(
                (x0 + 8, y0 + 8 + k * h / 40),
                "Lorem ipsum dolor sit amet",
                font=_font(max(8, h // 60)),
                fill=(40, 40, 40),
            )
    return im


def _homography(
    src: list[tuple[float, float]], dst: list[tuple[float, float]]
) -> tuple[float, ...]:
    """Coefficients of Pillow's PERSPECTIVE transform mapping output ``dst`` → input ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return tuple(float(c) for c in np.linalg.solve(np.array(rows), np.array(rhs)))


def _place(
    obj: Image.Image, frame: Image.Image, width: float, p: Params, rng: random.Random
) -> tuple[float, float]:
    """Shrink ``obj`` (area averaging) to ``width`` px, warp it and paste it into ``frame``.

    Returns the scale applied to ``obj`` and its final center x (for module-size stats).
    """
    fw, fh = frame.size
    ow, oh = obj.size
    theta = math.radians(p.rotation)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    # keep the rotated object inside 98 % of the frame (a real photo would be re-framed)
    height = width * oh / ow
    fit = min(
        1.0, 0.98 * fw / (width * cos + height * sin), 0.98 * fh / (width * sin + height * cos)
    )
    width, height = width * fit, height * fit
    scale = width / ow
    small = obj.resize((max(1, round(width)), max(1, round(height))), Image.Resampling.BOX)
    sw, sh = small.size
    hw, hh = sw / 2, sh / 2
    corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
    k = p.keystone
    if k:
        if rng.random() < 0.5:  # top or bottom edge narrower
            edge = rng.choice((0, 1))
            corners = [
                (x * (1 - k) if (i < 2) == (edge == 0) else x, y)
                for i, (x, y) in enumerate(corners)
            ]
        else:  # left or right edge shorter
            edge = rng.choice((0, 1))
            corners = [
                (x, y * (1 - k) if (i in (0, 3)) == (edge == 0) else y)
                for i, (x, y) in enumerate(corners)
            ]
    c, s = math.cos(theta), math.sin(theta)
    rot = [(x * c - y * s, x * s + y * c) for x, y in corners]
    xs, ys = [x for x, _ in rot], [y for _, y in rot]
    cx = rng.uniform(-min(xs) + 1, fw - max(xs) - 1) if fw - max(xs) - 1 > -min(xs) + 1 else fw / 2
    cy = rng.uniform(-min(ys) + 1, fh - max(ys) - 1) if fh - max(ys) - 1 > -min(ys) + 1 else fh / 2
    # Warp only into the destination's bounding box: same pixels, far less work.
    left, top = math.floor(cx + min(xs)) - 2, math.floor(cy + min(ys)) - 2
    right, bottom = math.ceil(cx + max(xs)) + 2, math.ceil(cy + max(ys)) + 2
    dst = [(x + cx - left, y + cy - top) for x, y in rot]
    coeffs = _homography([(0, 0), (sw, 0), (sw, sh), (0, sh)], dst)
    rgba = small.convert("RGBA")
    warped = rgba.transform(
        (right - left, bottom - top), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC
    )
    frame.paste(warped, (left, top), warped)
    return scale, cx


def _lighting(arr: np.ndarray, p: Params, rng: random.Random) -> np.ndarray:
    """Multiply by a smooth light pattern, computed at 1/8 size and upsampled (it is smooth,
    so this only saves time)."""
    h, w = arr.shape[:2]
    if p.light >= 0.999:
        return arr
    sw, sh = max(2, w // 8), max(2, h // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx, yy = xx * (w / sw), yy * (h / sh)
    if p.light_kind == "vignette":
        r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / math.sqrt(2)
        mult = 1 - (1 - p.light) * r**2
    elif p.light_kind == "shadow":
        angle = rng.uniform(0, math.pi)
        d = (xx - w / 2) * math.cos(angle) + (yy - h / 2) * math.sin(angle)
        center, half = rng.uniform(-w / 4, w / 4), rng.uniform(w / 10, w / 4)
        soft = max(2.0, w / 60)
        inside = 1 / (1 + np.exp(-(half - np.abs(d - center)) / soft))
        mult = 1 - (1 - p.light) * inside
    else:
        angle = rng.uniform(0, 2 * math.pi)
        d = (xx - w / 2) * math.cos(angle) + (yy - h / 2) * math.sin(angle)
        t = (d - d.min()) / max(1e-6, float(d.max() - d.min()))
        mult = 1 - (1 - p.light) * t
    small = Image.fromarray(mult.astype(np.float32), "F")
    full = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    arr *= full[..., None]
    return arr


def _motion_blur(arr: np.ndarray, length: float, angle: float) -> np.ndarray:
    n = max(2, round(length))
    out = np.zeros_like(arr)
    for t in np.linspace(-length / 2, length / 2, n):
        dx, dy = round(t * math.cos(angle)), round(t * math.sin(angle))
        out += np.roll(arr, (dy, dx), axis=(0, 1))
    return out / n


@dataclass(frozen=True)
class CorpusPhoto:
    """One generated photo with what is needed to score and analyse a decode."""

    seed: int
    bucket: str
    long_side: int
    kind: str
    jpeg: bytes
    payload: str
    px_per_module: float
    params: Params


def render(
    seed: int, bucket: str, long_side: int, kind: str = "cccd", **overrides: float | int | str
) -> CorpusPhoto:
    """Generate one photo (see module docstring).

    ``overrides`` replace fields of the bucket's :class:`Params` (e.g. ``light=0.1`` for a
    photo taken in the dark); the scene and the card's placement stay the same.
    """
    rng = random.Random(f"{seed}:{bucket}:{kind}")  # same scene at every size
    rec = synthetic_record(rng)
    payload = cccd_payload(rec) if kind == "cccd" else bhyt_payload(rec, rng)
    p = replace(bucket_params(bucket, rng), **overrides)  # type: ignore[arg-type]
    frame_size = (long_side, long_side * 3 // 4)
    unit = long_side / 1280
    frame = _table(frame_size, rng)
    if p.qr_only:
        qr, modules = _qr_image(payload)
        sheet = Image.new("RGB", (qr.size[0] + 120, qr.size[1] + 120), (245, 245, 240))
        sheet.paste(qr.convert("RGB"), (60, 60))
        target = p.card_frac * frame_size[1] * sheet.size[0] / QR_PX
        scale, _ = _place(sheet, frame, target, p, rng)
    else:
        card, modules = _draw_card(rec, payload, kind, rng, p.with_qr)
        scale, _ = _place(card, frame, p.card_frac * frame_size[0], p, rng)
    px_per_module = QR_PX * scale / modules
    nrng = np.random.default_rng(rng.getrandbits(64))
    if p.blur_sigma > 0:
        frame = frame.filter(ImageFilter.GaussianBlur(p.blur_sigma * unit))
    arr = np.array(frame, dtype=np.float32)
    if p.motion > 0:
        arr = _motion_blur(arr, p.motion * unit, rng.uniform(0, math.pi))
    arr = _lighting(arr, p, rng)
    if p.exposure != 1.0:
        arr *= p.exposure
    if p.noise > 0:
        noise = nrng.standard_normal(arr.shape, dtype=np.float32)
        noise *= p.noise
        arr += noise
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if p.turn:
        out = out.transpose(
            {
                90: Image.Transpose.ROTATE_90,
                180: Image.Transpose.ROTATE_180,
                270: Image.Transpose.ROTATE_270,
            }[p.turn]
        )
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=p.quality)
    return CorpusPhoto(seed, bucket, long_side, kind, buffer.getvalue(), payload, px_per_module, p)


def make_card_photo(
    seed: int, bucket: str, long_side: int, kind: str = "cccd"
) -> tuple[bytes, str]:
    """JPEG bytes of a synthetic card photo and the exact payload of its QR."""
    photo = render(seed, bucket, long_side, kind)
    return photo.jpeg, photo.payload


def corpus(
    n_per_bucket: int = 15,
    sizes: tuple[int, ...] = SIZES,
    buckets: tuple[str, ...] = BUCKETS,
    kind: str = "cccd",
) -> Iterator[CorpusPhoto]:
    """All photos of the benchmark corpus, in a fixed order (bucket, seed, size)."""
    for bucket in buckets:
        for seed in range(n_per_bucket):
            for size in sizes:
                yield render(seed, bucket, size, kind)
