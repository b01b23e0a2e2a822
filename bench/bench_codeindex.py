"""Benchmark dedup.codeindex.CodeIndex: one lookup at a time, every band count.

Uniform random 64-bit codes; the queries are stored codes with 0..10 bits flipped, so
every query has a match. For each band count (0 = a scan of every code) it prints the
build time, the memory held, lookup p50/p95 per k and whether every answer of a sample
equals brute force; the row the cost model (plan_bands) picks is marked. These figures set
the relative costs in dedup/codeindex.py.

Run: python bench/bench_codeindex.py [--n 10000000] [--k 10 16] [--queries 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup.codeindex import MAX_BANDS, MIN_BANDS, CodeIndex, plan_bands  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of codes")
    parser.add_argument("--k", type=int, nargs="+", default=[10, 16], help="distances looked up")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--exact-sample", type=int, default=20)
    parser.add_argument(
        "--bands", type=int, nargs="+", default=None, help="band counts (default: 0 and 3-5)"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    codes = rng.integers(0, 2**64, args.n, dtype=np.uint64)
    ids = np.arange(args.n, dtype=np.int64)
    picked = codes[rng.integers(0, args.n, args.queries)]
    queries = []
    for code in picked:
        flips = rng.choice(64, size=int(rng.integers(0, 11)), replace=False)
        queries.append(int(code) ^ sum(1 << int(b) for b in flips))
    layout_k = args.k[0]
    chosen = plan_bands(n=args.n, k=layout_k)
    counts = args.bands if args.bands is not None else [0, *range(MIN_BANDS, min(6, MAX_BANDS + 1))]
    print(f"{args.n:,} uniform codes, {args.queries} queries, bands laid out for k = {layout_k}")
    print(
        "\n| bands | build s | MiB | "
        + " | ".join(f"k={k} p50/p95 ms" for k in args.k)
        + " | equal |"
    )
    print("| --- | --- | --- | " + " | ".join("---" for _ in args.k) + " | --- |")
    for bands in counts:
        t0 = time.perf_counter()
        index = CodeIndex(ids=ids, codes=codes, k=layout_k, bands=bands)
        build = time.perf_counter() - t0
        cells, equal = [], True
        for k in args.k:
            timings = []
            for query in queries:
                t0 = time.perf_counter()
                index.near(code=query, k=k)
                timings.append(time.perf_counter() - t0)
            p50, p95 = (float(np.percentile(timings, q)) * 1000 for q in (50, 95))
            cells.append(f"{p50:.2f}/{p95:.2f}")
            for query in queries[: args.exact_sample]:
                found, distances = index.near(code=query, k=k)
                brute = np.bitwise_count(codes ^ np.uint64(query))
                expected = np.flatnonzero(brute <= k)
                equal &= np.array_equal(np.sort(found), expected)
                equal &= np.array_equal(distances[np.argsort(found)], brute[expected])
        mark = " (plan)" if bands == chosen else ""
        print(
            f"| {bands}{mark} | {build:.1f} | {index.nbytes / 2**20:,.0f} | "
            + " | ".join(cells)
            + f" | {'yes' if equal else 'NO'} |"
        )
        del index


if __name__ == "__main__":
    main()
