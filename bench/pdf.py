"""Benchmark the declaration PDF: time per ``render_declaration_pdf`` call, and its size.

Target: a few ms per document, so that the single renderer process (bot/cpu_worker.py)
keeps up with ~83 registrations/s on a 2-core machine.

- The document is a realistic one: Vietnamese labels, every field filled (name, BHXH code,
  CCCD number, address resolved from the 2025 codes, phone, e-mail, agency 03102 from the
  bundled directory with its address and phone), as the bot renders after an OTP.
- The first render (font loading, module imports already done) is timed on its own and
  printed as ``cold``; then ``--warmup`` renders are discarded, then ``--runs`` runs of
  ``--n`` renders each. Each render is timed with ``perf_counter`` (wall) and
  ``process_time`` (CPU of this process); the garbage collector is left on, as in the bot.
- Per run: median and p95 wall ms, median CPU ms. The last line is
  ``pdf_median_ms=… pdf_p95_ms=… bytes=…``: the medians over the runs of the per-run
  median and p95 (wall), and the size of the PDF in bytes.

Usage: ``python bench/pdf.py [--n 200] [--runs 3] [--warmup 20] [--out /tmp/decl.pdf]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.declaration_pdf import agency_info, render_declaration_pdf  # noqa: E402
from bot.flows.agencies import load_directory  # noqa: E402
from bot.flows.places import catalogue  # noqa: E402
from bot.i18n import Translator  # noqa: E402

RECEIPT = "00001.GD/2026/03102"
SUBMITTED = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)


def declaration() -> dict[str, Any]:
    places = catalogue()
    [province] = [p for p in places.provinces() if p.short_name == "Hải Phòng"]
    [commune] = [c for c in places.communes(province.code) if c.name == "Phường Gia Viên"]
    return {
        "full_name": "Nguyễn Văn An",
        "bhxh_code": "0312345678",
        "id_number": "001099012345",
        "id_type": "cccd",
        "province_code": province.code,
        "commune_code": commune.code,
        "street": "Số 5 Lạch Tray",
        "phone": "+84983847986",
        "email": "an.nguyen@example.com",
        "wants_email": True,
        "agency_code": "03102",
        "locale": "vi",
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="renders per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--lang", default="vi")
    parser.add_argument("--out", type=Path, help="also write one PDF there")
    args = parser.parse_args()

    translator = Translator()
    agency = agency_info(load_directory().by_code("03102"))
    data = declaration()

    def render() -> bytes:
        return render_declaration_pdf(data, RECEIPT, agency, SUBMITTED, args.lang, translator)

    start = time.perf_counter()
    pdf = render()
    print(f"cold: {(time.perf_counter() - start) * 1000:.1f} ms (first render in the process)")
    for _ in range(args.warmup):
        render()
    if args.out:
        args.out.write_bytes(pdf)

    medians: list[float] = []
    p95s: list[float] = []
    for run in range(1, args.runs + 1):
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(args.n):
            w0, c0 = time.perf_counter(), time.process_time()
            render()
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        medians.append(statistics.median(wall))
        p95s.append(percentile(wall, 0.95))
        print(
            f"run {run}: n={args.n} median={medians[-1]:.2f} ms p95={p95s[-1]:.2f} ms "
            f"cpu_median={statistics.median(cpu):.2f} ms"
        )
    print(
        f"pdf_median_ms={statistics.median(medians):.2f} "
        f"pdf_p95_ms={statistics.median(p95s):.2f} bytes={len(pdf)}"
    )


if __name__ == "__main__":
    main()
