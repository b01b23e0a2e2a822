"""Benchmark: the review queue page with many pending pairs (server time and query count).

Run on purpose (not part of the test suite):

    DATABASE_URL=postgres://USER:PASS@HOST:PORT/DB .venv/bin/python bench/bench_queue.py \
        [--pairs 100000] [--requests 30] [--reuse]

It loads synthetic assets and pending candidate pairs into a scratch database next to the
one in DATABASE_URL (named <db>_bench_queue), then requests the queue's first page, a
filtered page and a later page through Django's test client, and prints the median and
p95 server time and the number of SQL queries per request.
"""

import argparse
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

os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")  # the test client speaks plain HTTP


def load(pairs: int) -> None:
    from django.db import connection

    from archive.services import collection_get_or_create

    collection = collection_get_or_create(name="Benchmark")
    assets = pairs * 2
    kinds = ["exact", "pixel", "derivative", "similar"]
    rng = np.random.default_rng(5)
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY archive_asset (id, sha256, size, format, width, height, colour_mode, "
            "frame_count, storage_alias, storage_key, state, role, collection_id, "
            "original_path, original_filename, ingested_at, exif) FROM STDIN"
        ) as copy:
            for i in range(assets):
                copy.write_row(
                    (
                        i + 1,
                        f"{i:064x}",
                        1000 + i,
                        "JPEG",
                        640,
                        480,
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
        with cursor.copy(
            "COPY dedup_duplicatecandidate (asset_a_id, asset_b_id, kind, phash_distance, "
            "dhash_distance, evidence, status, found_by, created_at) FROM STDIN"
        ) as copy:
            for i in range(pairs):
                copy.write_row(
                    (
                        2 * i + 1,
                        2 * i + 2,
                        kinds[i % 4],
                        int(rng.integers(0, 11)),
                        int(rng.integers(0, 15)),
                        '{"reason": "benchmark pair"}',
                        "pending",
                        "scan",
                        "2026-01-01T00:00:00Z",
                    )
                )
        cursor.execute("SELECT setval('archive_asset_id_seq', %s)", [assets])
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def measure(client, url: str, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings, queries = [], 0
    for _ in range(requests):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        queries = len(captured)
    return statistics.median(timings) * 1000, float(np.percentile(timings, 95)) * 1000, queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (the bench makes <db>_bench_queue).")
    os.environ["DATABASE_URL"] = scratch_database(url, suffix="bench_queue", reuse=args.reuse)

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from dedup.models import DuplicateCandidate

    call_command("migrate", verbosity=0)
    if DuplicateCandidate.objects.count() != args.pairs:
        load(args.pairs)
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    base = "/admin/dedup/duplicatecandidate/"
    pages = [
        ("first page", base),
        ("kind=similar", base + "?kind__exact=similar"),
        ("status=pending, page 50", base + "?status__exact=pending&p=50"),
    ]
    print(f"\n| queue page, {args.pairs:,} pending pairs | median | p95 | queries |")
    print("| --- | --- | --- | --- |")
    for label, page in pages:
        median, p95, queries = measure(client, page, args.requests)
        print(f"| {label} | {median:.0f} ms | {p95:.0f} ms | {queries} |")


if __name__ == "__main__":
    main()
