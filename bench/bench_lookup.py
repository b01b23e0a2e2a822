"""Benchmark: ingest-time near-duplicate lookup against N fingerprints in PostgreSQL.

Run on purpose (not part of the test suite):

    DATABASE_URL=postgres://USER:PASS@HOST:PORT/DB .venv/bin/python bench/bench_lookup.py \
        [--n 1000000] [--queries 1000] [--k 10]

It creates a scratch database next to the one in DATABASE_URL (named <db>_bench), loads
N synthetic fingerprints with planted near-duplicates at distances 1..k around each query
code, and times `dedup.index.database_near_lookup` — the database band index that
`near_lookup` answers from below KEEPSAKE_LOOKUP_MEMORY_FROM fingerprints (the in-memory
index above it is measured by bench/rehearsal.py, figure 1, and bench/bench_codeindex.py).
It prints a table with p50/p95/p99 latency, the share of planted matches found, exactness
against a numpy brute force on a sample of queries, and a sequential-scan baseline.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from scratch import scratch_database  # noqa: E402


def planted_codes(n: int, queries: int, k: int, rng: np.random.Generator):
    """Random codes plus, per query code, one copy at each distance 1..k."""
    query_codes = rng.integers(0, 2**63, size=queries, dtype=np.int64).view(np.uint64)
    query_codes ^= rng.integers(0, 2, size=queries, dtype=np.uint64) << np.uint64(63)
    planted = []
    for code in query_codes:
        for distance in range(1, k + 1):
            bits = rng.choice(64, size=distance, replace=False)
            mask = np.bitwise_or.reduce(np.uint64(1) << bits.astype(np.uint64))
            planted.append(code ^ mask)
    filler = n - len(planted)
    codes = np.concatenate(
        [
            rng.integers(0, 2**64 - 1, size=filler, dtype=np.uint64, endpoint=True),
            np.array(planted, dtype=np.uint64),
        ]
    )
    return codes, query_codes


def load(codes: np.ndarray) -> None:
    from django.db import connection

    from archive.services import collection_get_or_create
    from dedup.imaging import HASH_VERSION

    collection = collection_get_or_create(name="Benchmark")
    bands = [(codes >> np.uint64(48 - 16 * b)) & np.uint64(0xFFFF) for b in range(4)]
    signed = codes.view(np.int64)
    raw = connection.connection
    start = time.perf_counter()
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY archive_asset (id, sha256, size, format, width, height, colour_mode, "
            "frame_count, storage_alias, storage_key, state, role, collection_id, "
            "original_path, original_filename, ingested_at, exif) FROM STDIN"
        ) as copy:
            for i in range(codes.size):
                copy.write_row(
                    (
                        i + 1,
                        f"{i:064x}",
                        1,
                        "JPEG",
                        1,
                        1,
                        "RGB",
                        1,
                        "hot",
                        f"bench/{i}",
                        "active",
                        "original",
                        collection.pk,
                        f"bench/{i}.jpg",
                        f"{i}.jpg",
                        "2026-01-01T00:00:00Z",
                        "{}",
                    )
                )
        buffer = io.StringIO()
        for i in range(codes.size):
            buffer.write(
                f"{i + 1}\t{i + 1}\t{i:064x}\t{signed[i]}\t{signed[i]}\t"
                f"{bands[0][i]}\t{bands[1][i]}\t{bands[2][i]}\t{bands[3][i]}\t"
                f"f\t{HASH_VERSION}\t\t2026-01-01T00:00:00Z\n"
            )
        buffer.seek(0)
        with cursor.copy(
            "COPY dedup_fingerprint (id, asset_id, sha256, phash, dhash, phash_b0, phash_b1, "
            "phash_b2, phash_b3, low_information, hash_version, error, computed_at) FROM STDIN"
        ) as copy:
            while data := buffer.read(1 << 20):
                copy.write(data)
        cursor.execute("SELECT setval('archive_asset_id_seq', %s)", [codes.size])
        cursor.execute("SELECT setval('dedup_fingerprint_id_seq', %s)", [codes.size])
    raw.commit()
    raw.autocommit = True
    with raw.cursor() as cursor:
        # Index-only scans need the visibility map that VACUUM builds.
        cursor.execute("VACUUM ANALYZE dedup_fingerprint")
    raw.autocommit = False
    print(
        f"loaded {codes.size:,} fingerprints in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )


def seq_scan(query: int, k: int) -> set:
    from django.db import connection

    from dedup.imaging import signed64

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT asset_id FROM dedup_fingerprint WHERE bit_count((phash # %s)::bit(64)) <= %s",
            [signed64(query), k],
        )
        return {row[0] for row in cursor.fetchall()}


def percentile(values, q):
    return float(np.percentile(np.array(values) * 1000, q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--exact-sample", type=int, default=50)
    parser.add_argument("--seq-sample", type=int, default=20)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the scratch database of an earlier run with the same --n",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the bench makes <db>_bench).")
    os.environ["DATABASE_URL"] = scratch_database(url, suffix="bench", reuse=args.reuse)

    import django

    django.setup()
    from django.core.management import call_command

    from dedup.index import database_near_lookup as near_lookup
    from dedup.models import Fingerprint

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(20261122)
    codes, queries = planted_codes(args.n, args.queries, args.k, rng)
    if Fingerprint.objects.count() != codes.size:
        load(codes)

    timings, planted_found = [], 0
    planted_start = codes.size - queries.size * args.k
    for qi, query in enumerate(queries):
        t0 = time.perf_counter()
        found = near_lookup(phash=int(query), k=args.k)
        timings.append(time.perf_counter() - t0)
        expected = range(planted_start + qi * args.k + 1, planted_start + (qi + 1) * args.k + 1)
        planted_found += sum(1 for asset_id in expected if asset_id in found)

    exact = 0
    for query in queries[: args.exact_sample]:
        distances = np.bitwise_count(codes ^ query)
        brute = {int(i) + 1: int(distances[i]) for i in np.flatnonzero(distances <= args.k)}
        exact += near_lookup(phash=int(query), k=args.k) == brute

    seq_timings = []
    for query in queries[: args.seq_sample]:
        t0 = time.perf_counter()
        seq_scan(int(query), args.k)
        seq_timings.append(time.perf_counter() - t0)

    p50, p95, p99 = (percentile(timings, q) for q in (50, 95, 99))
    seq_p50 = percentile(seq_timings, 50)
    print(f"\n| lookup at {args.n:,} fingerprints, k={args.k} | value |")
    print("| --- | --- |")
    print(f"| queries | {len(timings)} |")
    print(f"| p50 / p95 / p99 | {p50:.2f} / {p95:.2f} / {p99:.2f} ms |")
    print(f"| mean | {statistics.mean(timings) * 1000:.2f} ms |")
    print(
        f"| planted matches found | {planted_found} / {queries.size * args.k} "
        f"({100 * planted_found / (queries.size * args.k):.1f} %) |"
    )
    print(f"| equal to brute force | {exact} / {min(args.exact_sample, queries.size)} queries |")
    print(f"| sequential scan p50 (same run) | {seq_p50:.1f} ms |")
    print(f"| speed-up at p50 vs sequential scan | {seq_p50 / p50:.0f}x |")


if __name__ == "__main__":
    main()
