"""Benchmark the address catalogue: load time and per-query lookup time.

Targets (see bot/flows/places.py): load < 300 ms, lookup median < 1 ms.

- load: ``catalogue()`` from a cleared singleton and key cache, as in a fresh process
  (JSON read + province/commune indexes + old province/district tables); median of N.
- lookup: 1,000 typed queries generated from the data with a fixed seed — provinces and
  communes, with and without diacritics, kind words, prefixes, old names and typos — each
  answered the way the bot does: ``find_*``, then ``closest_*`` when nothing matched.
  The catalogue is freshly loaded, so first-use work (per-province indexes) is included.
- also printed: old-address conversion (``convert_legacy``) over 300 synthetic CCCD-style
  addresses, and the cost of indexing every old ward (done lazily per old province, so a
  process pays it piecemeal; the first search without a province pays it in one go).

Usage: ``python bench/places.py [--loads 7] [--seed 1]``; the last line is
``load_ms=… lookup_median_ms=…``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.flows import places as places_module  # noqa: E402
from bot.flows.places import DATA_FILE, Catalogue, fold  # noqa: E402

PROVINCE_EXTRAS = ["hcm", "tp hcm", "sai gon", "saigon", "hn", "ha noi", "hue", "Thừa Thiên Huế"]
OLD_PROVINCES = ["Bình Dương", "Kiên Giang", "Hải Dương", "Quảng Nam", "vung tau", "Hà Tây"]


def typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: a dropped, doubled or swapped letter."""
    if len(text) < 4:
        return text + text[-1]
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def make_queries(cat: Catalogue, rng: random.Random, n: int) -> list[tuple[str | None, str, bool]]:
    """(province code or None, text, is_province_query) — ~30 % provinces, ~70 % communes."""
    provinces = cat.provinces()
    out: list[tuple[str | None, str, bool]] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.3:
            p = rng.choice(provinces)
            text = rng.choice(
                [
                    fold(p.short_name),
                    p.short_name,
                    p.name,
                    rng.choice(PROVINCE_EXTRAS),
                    rng.choice(OLD_PROVINCES),
                    typo(rng, fold(p.short_name)),
                    fold(p.short_name)[:3],
                ]
            )
            out.append((None, text, True))
            continue
        p = rng.choice(provinces)
        c = rng.choice(cat.communes(p.code))
        short = c.short_name
        text = rng.choice(
            [
                fold(short),
                short,
                c.name,
                f"{'P.' if c.kind == 'phường' else 'xa'} {fold(short)}",
                fold(short)[: rng.randint(3, 6)],
                typo(rng, fold(short)),
                typo(rng, short),
            ]
        )
        out.append((None if roll > 0.93 else p.code, text, False))
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def bench_load(loads: int) -> float:
    samples = []
    for _ in range(loads):
        places_module._reset_cache()
        gc.collect()
        samples.append(timed(places_module.catalogue))
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=7)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    size = DATA_FILE.stat().st_size
    load_ms = bench_load(max(5, args.loads))

    fresh = places_module.load_catalogue()
    legacy = fresh._legacy()

    def index_all() -> None:
        for code in legacy.provinces:
            legacy.ensure(code)

    all_wards_ms = timed(index_all)

    places_module._reset_cache()
    cat = places_module.catalogue()
    rng = random.Random(args.seed)
    queries = make_queries(cat, rng, args.queries)

    lookup: list[float] = []
    empty = 0
    for pcode, text, is_province in queries:
        t0 = time.perf_counter_ns()
        if is_province:
            found: list[object] = list(cat.find_provinces(text) or cat.closest_provinces(text))
        else:
            found = list(cat.find_communes(pcode, text) or cat.closest_communes(pcode, text))
        lookup.append((time.perf_counter_ns() - t0) / 1e6)
        empty += not found

    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))["legacy"]
    districts = {d[0]: d for d in raw["districts"]}
    provinces = {p[0]: p for p in raw["provinces"]}
    wards = [w for rows in raw["wards"].values() for w in rows]
    convert: list[float] = []
    for w in rng.sample(wards, 300):
        d = districts[w[2]]
        p = provinces[d[2]]
        address = f"Số {rng.randint(1, 200)}, {w[1].split(' ', 1)[1]}, {d[1]}, {p[1]}"
        t0 = time.perf_counter_ns()
        cat.convert_legacy(address)
        convert.append((time.perf_counter_ns() - t0) / 1e6)

    lookup.sort()
    print(f"data file: {DATA_FILE.name} {size:,} bytes")
    print(f"load (median of {max(5, args.loads)}): {load_ms:.1f} ms")
    print(
        f"lookups: {len(lookup)} queries, median {statistics.median(lookup):.3f} ms, "
        f"p95 {lookup[int(len(lookup) * 0.95)]:.3f} ms, max {lookup[-1]:.1f} ms, "
        f"no answer {empty}"
    )
    print(f"convert_legacy: median {statistics.median(convert):.3f} ms over {len(convert)}")
    print(
        f"indexing all ~10k old wards (lazy, per old province on first use): {all_wards_ms:.1f} ms"
    )
    print(f"load_ms={load_ms:.1f} lookup_median_ms={statistics.median(lookup):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
