"""Benchmark of QR decoding on synthetic card photos (tests/corpus.py, PERF.md §1 method).

    .venv/bin/python bench/qr.py            # 10 buckets × 15 seeds × 2 sizes = 300 photos
    .venv/bin/python bench/qr.py --quick    # 10 × 5 × 2 = 100 photos
    .venv/bin/python bench/qr.py --seed-offset 1000   # a held-out set of scenes

Success = the exact payload bytes were decoded. Times are wall-clock per photo on one
thread, *including* JPEG decoding; each photo is timed ``--repeats`` times and its median
kept, then the median / p95 / max across photos are reported.

Decoders: zxing-cpp defaults, zxing-cpp "fast" flags, PERF.md's ladder (fast → default →
2× upscale), and the bot's pipeline (``bot.flows.qr.read_qr_texts``). pyzbar is not
measured: it needs Debian's ``libzbar0`` (PERF.md measured it: slower and weaker).

Generated photos are cached under the system temp dir, keyed by a hash of corpus.py, so
only the first run pays the ~2 minutes of generation. Deterministic: fixed seeds.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zxingcpp  # noqa: E402
from PIL import Image  # noqa: E402

from bot.flows.qr import read_qr_texts  # noqa: E402
from tests import corpus as corpus_mod  # noqa: E402

QR = zxingcpp.BarcodeFormat.QRCode
FAST = {"try_rotate": False, "try_downscale": False, "try_invert": False}


@dataclass(frozen=True)
class Sample:
    bucket: str
    seed: int
    size: int
    jpeg: bytes
    payload: bytes


def _cache_dir(kind: str) -> Path:
    digest = hashlib.sha1((ROOT / "tests" / "corpus.py").read_bytes()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"vssid-qr-corpus-{digest}-{kind}"


def _render(job: tuple[int, str, int, str]) -> tuple[bytes, str]:
    return corpus_mod.make_card_photo(*job)


def load_corpus(n: int, offset: int, kind: str, use_cache: bool) -> list[Sample]:
    jobs = [
        (offset + i, bucket, size, kind)
        for bucket in corpus_mod.BUCKETS
        for i in range(n)
        for size in corpus_mod.SIZES
    ]
    cache = _cache_dir(kind)
    cache.mkdir(parents=True, exist_ok=True)
    paths = [cache / f"{bucket}_{seed}_{size}" for seed, bucket, size, _ in jobs]
    missing = [
        (job, path)
        for job, path in zip(jobs, paths, strict=True)
        if not use_cache or not path.with_suffix(".jpg").exists()
    ]
    if missing:
        started = time.perf_counter()
        print(f"generating {len(missing)} photos into {cache} …", file=sys.stderr)
        with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
            for (_, path), (jpeg, payload) in zip(
                missing, pool.map(_render, [j for j, _ in missing], chunksize=2), strict=True
            ):
                path.with_suffix(".txt").write_text(payload, encoding="utf-8")
                path.with_suffix(".jpg").write_bytes(jpeg)
        print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return [
        Sample(
            bucket,
            seed,
            size,
            path.with_suffix(".jpg").read_bytes(),
            path.with_suffix(".txt").read_text(encoding="utf-8").encode("utf-8"),
        )
        for (seed, bucket, size, _), path in zip(jobs, paths, strict=True)
    ]


# --- decoders: bytes in, decoded payloads (bytes) out -----------------------------------


def _gray(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.draft("L", None)
    im.load()
    return im if im.mode == "L" else im.convert("L")


def zxing_default(data: bytes) -> list[bytes]:
    return [r.bytes for r in zxingcpp.read_barcodes(_gray(data), formats=QR)]


def zxing_fast(data: bytes) -> list[bytes]:
    return [r.bytes for r in zxingcpp.read_barcodes(_gray(data), formats=QR, **FAST)]


def perf_ladder(data: bytes) -> list[bytes]:
    im = _gray(data)
    for step in range(3):
        image = (
            im if step < 2 else im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC)
        )
        flags = {} if step == 1 else FAST
        found = [r.bytes for r in zxingcpp.read_barcodes(image, formats=QR, **flags)]
        if found:
            return found
    return []


def bot_pipeline(data: bytes) -> list[bytes]:
    return [t.encode("utf-8") for t in read_qr_texts(data)]


DECODERS: dict[str, Callable[[bytes], list[bytes]]] = {
    "zxing": zxing_default,
    "zxing_fast": zxing_fast,
    "perf_ladder": perf_ladder,
    "bot": bot_pipeline,
}


@dataclass
class Outcome:
    ok: bool
    ms: float


def run(
    samples: list[Sample], decoders: dict[str, Callable[[bytes], list[bytes]]], repeats: int
) -> dict[str, list[Outcome]]:
    """Time every decoder on every photo, interleaved photo by photo so that load from
    other processes on a shared machine hits all decoders alike."""
    results: dict[str, list[Outcome]] = {name: [] for name in decoders}
    for sample in samples:
        for name, decode in decoders.items():
            times, ok = [], False
            for _ in range(repeats):
                started = time.perf_counter()
                found = decode(sample.jpeg)
                times.append((time.perf_counter() - started) * 1000)
                ok = sample.payload in [bytes(f) for f in found]
            results[name].append(Outcome(ok, statistics.median(times)))
    return results


def _pct(xs: list[bool]) -> float:
    return 100.0 * sum(xs) / len(xs) if xs else float("nan")


def _p95(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 photos per bucket and size")
    parser.add_argument("-n", type=int, default=15, help="photos per bucket and size")
    parser.add_argument("--seed-offset", type=int, default=0, help="use other scenes")
    parser.add_argument("--repeats", type=int, default=3, help="timings per photo")
    parser.add_argument("--kind", choices=("cccd", "bhyt"), default="cccd")
    parser.add_argument("--only", choices=sorted(DECODERS), action="append")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--failures", action="store_true", help="list the bot's failures")
    args = parser.parse_args()
    n = 5 if args.quick else args.n

    samples = load_corpus(n, args.seed_offset, args.kind, not args.no_cache)
    names = args.only or list(DECODERS)
    for name in names:  # warm-up (imports, first-call allocations)
        DECODERS[name](samples[0].jpeg)
    results = run(samples, {name: DECODERS[name] for name in names}, args.repeats)

    print(
        f"{len(samples)} photos ({args.kind}, seeds {args.seed_offset}…"
        f"{args.seed_offset + n - 1}); success % at 1280 / 2560 px"
    )
    header = f"{'bucket':<12}" + "".join(f"{name:>18}" for name in names)
    print(header)
    print("-" * len(header))
    rows: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for name in names:
        for sample, outcome in zip(samples, results[name], strict=True):
            rows[sample.bucket][f"{name}/{sample.size}"].append(outcome.ok)
            rows["ALL"][f"{name}/{sample.size}"].append(outcome.ok)
    for bucket in [*corpus_mod.BUCKETS, "ALL"]:
        cells = "".join(
            f"{_pct(rows[bucket][f'{name}/1280']):>9.1f}/{_pct(rows[bucket][f'{name}/2560']):<8.1f}"
            for name in names
        )
        print(f"{bucket:<12}{cells}")
    print()
    print(f"{'time ms':<12}" + "".join(f"{name:>18}" for name in names))
    for label, size in (("1280", 1280), ("2560", 2560), ("all", None)):
        for stat, fn in (("median", statistics.median), ("p95", _p95), ("max", max)):
            cells = ""
            for name in names:
                ms = [
                    o.ms
                    for s, o in zip(samples, results[name], strict=True)
                    if size is None or s.size == size
                ]
                cells += f"{fn(ms):>18.1f}"
            print(f"{label + ' ' + stat:<12}{cells}")
    if args.failures and "bot" in results:
        print("\nbot failures:")
        for sample, outcome in zip(samples, results["bot"], strict=True):
            if not outcome.ok:
                print(
                    f"  {sample.bucket} seed={sample.seed} size={sample.size} {outcome.ms:.0f} ms"
                )
    if "bot" in results:
        bot = results["bot"]
        ms = [o.ms for o in bot]
        r1280 = _pct([o.ok for s, o in zip(samples, bot, strict=True) if s.size == 1280])
        r2560 = _pct([o.ok for s, o in zip(samples, bot, strict=True) if s.size == 2560])
        print(
            f"read_1280={r1280:.1f}% read_2560={r2560:.1f}% "
            f"median_ms={statistics.median(ms):.1f} p95_ms={_p95(ms):.1f} max_ms={max(ms):.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
