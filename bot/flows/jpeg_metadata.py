"""Cutting metadata out of a JPEG file without touching its compressed pixels.

Why by hand: Pillow can only drop metadata by decoding and re-encoding the photo, which
costs ~4 ms of CPU per 1000×750 photo (three photos per registration, the largest CPU cost
of a whole registration in ``bench/flow.py``) and loses a JPEG generation of quality on the
document the agency officer must read. piexif removes only the EXIF block and has not been
released since 2019; exiftool is a Perl program. A JPEG's header is a plain list of
length-prefixed segments (ITU T.81 §B.1.1.4), so keeping the ones that describe the pixels
and dropping every application segment (EXIF with GPS, XMP, ICC, MPF, maker notes) and
every comment is a short loop.

Anything unusual (an unknown marker, a length that runs past the end, metadata hidden after
the first scan) gives ``None`` and the caller re-encodes instead: this is a fast path, never
the only one.
"""

from __future__ import annotations

import re
from typing import Final

_SOI: Final = b"\xff\xd8"
_EOI: Final = b"\xff\xd9"
_SOS: Final = 0xDA
_ADOBE: Final = 0xEE  # APP14 "Adobe": says whether the pixels are YCbCr or RGB/CMYK; no data

#: Segments that describe the compressed pixels: frame headers (SOF0–15 without the C4/C8/CC
#: codes), Huffman and arithmetic tables, quantisation tables, restart interval, line count.
_PIXEL_SEGMENTS: Final = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
    | {0xC4, 0xCC, 0xDB, 0xDD, 0xDC}
)

#: An application segment or a comment starting anywhere after the first scan. In coded
#: data 0xFF is always followed by 0x00 or a restart marker, so a hit is a real marker or,
#: rarely, a table byte that looks like one; either way the caller re-encodes.
_LATE_METADATA: Final = re.compile(rb"\xff[\xe0-\xef\xfe]")


def _is_metadata(marker: int) -> bool:
    return 0xE0 <= marker <= 0xEF or marker == 0xFE


def strip_metadata(data: bytes) -> bytes | None:
    """``data`` with only the segments that describe its pixels, ending at the first image's
    end (a phone's multi-picture file carries more images, each with its own EXIF), or
    ``None`` when the file is not laid out the way this simple walk expects."""
    if not data.startswith(_SOI):
        return None
    kept = [_SOI]
    pos = len(_SOI)
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if end <= pos + 3 or end > len(data):
            return None
        if marker == _SOS:
            break
        if marker in _PIXEL_SEGMENTS or (marker == _ADOBE and data[pos + 4 : pos + 9] == b"Adobe"):
            kept.append(data[pos:end])
        elif not _is_metadata(marker):
            return None
        pos = end
    last = data.find(_EOI, pos)
    if last < 0:
        return None
    scans = data[pos : last + len(_EOI)]
    if _LATE_METADATA.search(scans):
        return None
    kept.append(scans)
    return b"".join(kept)
