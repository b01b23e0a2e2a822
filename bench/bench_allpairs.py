"""Benchmark dedup.mih.all_pairs on random 64-bit codes with planted near-duplicates.

Pinned to one CPU core. Peak memory is the process's maximum resident set size
(ru_maxrss), which includes the interpreter, numpy and the input arrays.

Run: python bench/bench_allpairs.py [--n 1000000] [--k 10] [--bands N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup import mih  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="total number of codes")
    parser.add_argument("--k", type=int, nargs="+", default=[10], help="distance threshold(s)")
    parser.add_argument("--bands", type=int, default=None, help="default: chosen by cost model")
    parser.add_argument("--planted", type=float, default=0.01, help="fraction of planted copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--verify-sample",
        type=int,
        default=300,
        help="codes whose neighbours are brute-forced to check completeness",
    )
    parser.add_argument("--any-core", action="store_true", help="do not pin to one core")
    return parser.parse_args()


def make_codes(
    *, n: int, planted: int, max_flips: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (codes, ids, planted_a, planted_b): copies of random codes with 0..max_flips
    bits flipped, every code under a shuffled unique id."""
    base = rng.integers(0, 2**64, size=n - planted, dtype=np.uint64)
    sources = rng.choice(n - planted, size=planted, replace=False)
    flips = rng.integers(0, max_flips + 1, size=planted)
    # Rank random keys per row: the first `flips` ranks pick distinct bit positions.
    ranks = np.argsort(rng.random((planted, 64)), axis=1)
    chosen = np.arange(64)[None, :] < flips[:, None]
    bits = np.where(chosen, np.uint64(1) << ranks.astype(np.uint64), np.uint64(0))
    copies = base[sources] ^ np.bitwise_or.reduce(bits, axis=1)
    codes = np.concatenate([base, copies])
    ids = rng.permutation(n).astype(np.int64)
    return codes, ids, ids[sources], ids[n - planted + np.arange(planted)]


def run(*, codes: np.ndarray, ids: np.ndarray, k: int, bands: int | None) -> dict:
    """Time one all_pairs join and collect its pairs."""
    start = time.perf_counter()
    chunks = list(mih.all_pairs(codes=codes, ids=ids, k=k, bands=bands))
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "pairs": mih.concat_pairs(chunks=chunks)}


def planted_recall(*, pairs: mih.PairChunk, planted_a, planted_b, codes, ids, k) -> float:
    """Fraction of planted pairs within k that the join reported."""
    by_id = np.empty(ids.size, dtype=np.uint64)
    by_id[ids] = codes
    within = np.bitwise_count(by_id[planted_a] ^ by_id[planted_b]) <= k
    lo = np.minimum(planted_a, planted_b)[within]
    hi = np.maximum(planted_a, planted_b)[within]
    found = np.isin(lo * ids.size + hi, pairs.id_a * ids.size + pairs.id_b)
    return float(found.mean()) if found.size else 1.0


def check_distances(*, pairs: mih.PairChunk, codes, ids, k) -> bool:
    """Confirm every reported pair is unique, ordered and really within k."""
    by_id = np.empty(ids.size, dtype=np.uint64)
    by_id[ids] = codes
    dist = np.bitwise_count(by_id[pairs.id_a] ^ by_id[pairs.id_b])
    keys = pairs.id_a * ids.size + pairs.id_b
    return bool(
        np.all(dist == pairs.distance)
        and np.all(dist <= k)
        and np.all(pairs.id_a < pairs.id_b)
        and np.unique(keys).size == keys.size
    )


def sample_complete(*, pairs: mih.PairChunk, codes, ids, k, sample: int, rng) -> bool:
    """Brute-force the neighbours of a random sample of codes and check none were missed."""
    reported = set(zip(pairs.id_a.tolist(), pairs.id_b.tolist(), strict=True))
    for i in rng.choice(codes.size, size=min(sample, codes.size), replace=False):
        near = np.flatnonzero(np.bitwise_count(codes ^ codes[i]) <= k)
        for j in near[near != i]:
            pair = (min(ids[i], ids[j]), max(ids[i], ids[j]))
            if pair not in reported:
                return False
    return True


def main() -> None:
    """Generate codes, run the join for each k, print a markdown table."""
    args = parse_args()
    if not args.any_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rng = np.random.default_rng(args.seed)
    planted = int(args.n * args.planted)
    codes, ids, pa, pb = make_codes(n=args.n, planted=planted, max_flips=max(args.k), rng=rng)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{args.n:,} codes ({planted:,} planted copies with 0..{max(args.k)} flipped bits), "
        f"1 core, RSS before joins {base_rss:.0f} MiB\n"
    )
    print("| n | k | bands | time (s) | peak RSS (MiB) | pairs | planted found | exact | goal |")
    # "exact": every reported pair is unique and within k, and brute force over a random
    # sample of codes finds no pair the join missed.
    print("|---|---|---|---|---|---|---|---|---|")
    for k in args.k:
        bands = args.bands or mih.choose_bands(n=args.n, k=k)
        result = run(codes=codes, ids=ids, k=k, bands=bands)
        pairs = result["pairs"]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        recall = planted_recall(pairs=pairs, planted_a=pa, planted_b=pb, codes=codes, ids=ids, k=k)
        exact = check_distances(pairs=pairs, codes=codes, ids=ids, k=k) and sample_complete(
            pairs=pairs, codes=codes, ids=ids, k=k, sample=args.verify_sample, rng=rng
        )
        met = result["seconds"] <= 60 and peak <= 1024 and recall == 1.0 and exact
        print(
            f"| {args.n:,} | {k} | {bands} | {result['seconds']:.1f} | {peak:.0f} | "
            f"{pairs.id_a.size:,} | {100 * recall:.1f} % | {'yes' if exact else 'NO'} | "
            f"{'met' if met else 'MISSED'} |"
        )


if __name__ == "__main__":
    main()
