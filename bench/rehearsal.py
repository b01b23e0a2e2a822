"""Scale rehearsal: the whole system on loopback at N assets, measured against its goals.

Run on purpose (`make rehearsal`, or directly):

    .venv/bin/python bench/rehearsal.py [--assets 100000] [--pairs N] [--events N] \
        [--files 24] [--retention-assets N] [--scan-new M] [--scan-workers W] \
        [--only 1,2,5,6,7]

It starts real components on 127.0.0.1 only, each in a temporary directory removed at the
end: its own PostgreSQL cluster (Debian's binaries), redis-server as django-q2's broker, and
moto's S3 server with a hot and a cold bucket configured through django-storages (the
production settings code: KEEPSAKE_STORAGE_BACKEND=s3). It loads data with COPY, runs each
figure and prints ONE table, each figure beside its goal, with the scale it ran at.

Figures (the numbers follow issue 16):
 1. ingest-time lookup (dedup.index.near_lookup) at N fingerprints, k = 10, uniform and
    clustered codes: p50/p95/p99, recall and equality with a numpy brute force on a sample;
 2. all pairs (dedup.mih.all_pairs) at N, k = 10, both distributions: time, peak RSS of
    its own process, same pairs as brute force on a sample;
 3. whole ingest of 12 MP JPEGs (`manage.py ingest --workers 1`, S3, PostgreSQL) per core
    against plain imagehash.phash(Image.open(p)) in the same run;
 4. ingest and review decisions through django-q2 (Redis broker, S3) with 1, 2, 4 workers,
    --worker-rounds rounds each in a balanced order, medians; during the decisions it
    samples pg_stat_activity for backends waiting on a lock and the table they ask for,
    and it accounts where the cores went (/proc: the workers, django-q2's monitor and
    pusher, PostgreSQL, S3, Redis, the rest) and how much a second process of a pure-Python
    loop adds on this machine; --decisions-unaudited repeats the decisions without their
    audit events (an experiment: what the chain head costs them);
 5. the review queue at M pending pairs (bench/bench_queue.py's pages);
 6. retention enforcement over N due assets and the rolling scan over M new fingerprints,
    W worker processes at once, each calling the scheduled tasks' entry points
    (retention_enforce_task, scan_incremental_task) in turn until neither finds work, as
    django-q2 workers running overlapping schedules do: wall time, items/s, peak RSS per
    worker, and the items the record shows processed twice (audit events, requests, moves
    and certificates per asset or item; scans and flags per fingerprint or pair), two rows;
    its tiers are local disk unless --retention-storage s3 (moto answers about 70
    requests/s, so at scale S3 would measure moto, not Keepsake);
 7. audit export (JSON lines) and verification of E events: events/s and peak RSS.

KEEPSAKE_REHEARSAL_PROFILE=DIR makes each worker of figure 6 write a cProfile of its run to
DIR/worker-PID.prof (`python -m pstats FILE`), to see where an enforcement step goes.

The clustered distribution: the pHashes of the photos bundled with scikit-image (the ones
bench/bench_fingerprint.py uses) are the seeds; cluster centres are seeds with each bit
flipped with probability --centre-noise (0.30), and each centre has --cluster-size (4)
copies with each bit flipped with probability --copy-noise (0.04), so the codes share the
seeds' bit biases (crowded bands, the hard case for multi-index hashing) and hold real
near-duplicate clusters.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for entry in (str(ROOT), str(BENCH)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

K = 10
# Variant hashes kept per photo (47-49 by aspect: 7 turns and mirrors, the rest windows).
VARIANTS_PER_ASSET = 49
HOT, COLD = "keepsake-hot", "keepsake-cold"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal"}


# --- components on loopback ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def debian_packages_ensure() -> None:
    """Install PostgreSQL and redis-server from Debian's packages when absent (as root)."""
    missing = []
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("postgresql")
    if not shutil.which("redis-server") and not Path("/usr/bin/redis-server").exists():
        missing.append("redis-server")
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"Install Debian's {' '.join(missing)} (apt-get install {' '.join(missing)}).")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


class Stack(contextlib.ExitStack):
    """PostgreSQL, Redis and an S3 API, each in its own temporary directory."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="keepsake-rehearsal-"))
        self.callback(shutil.rmtree, self.tmp, ignore_errors=True)

    def _as_pg(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)

    def postgres(self) -> str:
        pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
        pgbin = pgbin[-1]
        data = self.tmp / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres")
            shutil.chown(data, "postgres")
        subprocess.run(
            self._as_pg(str(pgbin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=1GB "
            "-c maintenance_work_mem=1GB -c max_wal_size=16GB -c checkpoint_timeout=1h "
            "-c max_connections=200 -c work_mem=64MB"
        )
        subprocess.run(
            self._as_pg(
                str(pgbin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "log"),
                "-w",
                "-o",
                options,
                "start",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.callback(
            subprocess.run,
            self._as_pg(str(pgbin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            stdout=subprocess.DEVNULL,
            check=False,
        )
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute("CREATE ROLE keepsake LOGIN SUPERUSER PASSWORD 'keepsake'")
            admin.execute("CREATE DATABASE rehearsal OWNER keepsake")
        self.pg_port = port
        self.pg_version = pgbin.parent.name
        return f"postgres://keepsake:keepsake@127.0.0.1:{port}/rehearsal"

    def redis(self) -> str:
        port = free_port()
        server = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
        )
        self.callback(server.wait, timeout=30)
        self.callback(server.terminate)
        wait_port(port)
        self.redis_pid = server.pid
        return f"redis://127.0.0.1:{port}/0"

    def s3(self) -> str:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.callback(server.wait, timeout=30)
        self.callback(server.terminate)
        wait_port(port)
        self.s3_pid = server.pid
        endpoint = f"http://127.0.0.1:{port}"
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="rehearsal",
            aws_secret_access_key="rehearsal",  # noqa: S106 - moto accepts any key
        )
        for bucket in (HOT, COLD):
            client.create_bucket(Bucket=bucket)
        return endpoint


def s3_env(endpoint: str, run: str) -> dict[str, str]:
    """Environment for the production settings: hot and quarantine in one bucket, cold in
    another (storage class STANDARD_IA), each run under its own prefix."""
    return {
        **CREDENTIALS,
        "KEEPSAKE_STORAGE_BACKEND": "s3",
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "KEEPSAKE_S3_HOT_BUCKET": HOT,
        "KEEPSAKE_S3_QUARANTINE_BUCKET": HOT,
        "KEEPSAKE_S3_COLD_BUCKET": COLD,
        "KEEPSAKE_S3_COLD_STORAGE_CLASS": "STANDARD_IA",
        "KEEPSAKE_S3_HOT_PREFIX": f"{run}/hot",
        "KEEPSAKE_S3_QUARANTINE_PREFIX": f"{run}/quarantine",
        "KEEPSAKE_S3_COLD_PREFIX": f"{run}/cold",
    }


def database_create(name: str) -> str:
    """A fresh database copied from the migrated template; Django's connection moves there."""
    from django.db import connection

    connection.close()
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=PG["port"], user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE rehearsal OWNER keepsake')
    connection.settings_dict["NAME"] = name
    return f"postgres://keepsake:keepsake@127.0.0.1:{PG['port']}/{name}"


PG: dict = {}


# --- code distributions ----------------------------------------------------------------


def photo_seeds() -> np.ndarray:
    """pHashes of the photos bundled with scikit-image (bench_fingerprint's sources)."""
    import imagehash
    from bench_fingerprint import SOURCES
    from PIL import Image

    from dedup.imaging import hash_to_int

    seeds = []
    for make in SOURCES.values():
        image = Image.fromarray(make()).convert("RGB")
        seeds.append(hash_to_int(image_hash=imagehash.phash(image)))
        seeds.append(hash_to_int(image_hash=imagehash.phash(image.transpose(0))))
    return np.unique(np.array(seeds, dtype=np.uint64))


def bit_noise(rng: np.random.Generator, count: int, p: float) -> np.ndarray:
    """count 64-bit masks, each bit set with probability p."""
    out = np.empty(count, dtype=np.uint64)
    step = 1 << 20
    for start in range(0, count, step):
        bits = rng.random((min(step, count - start), 64)) < p
        out[start : start + bits.shape[0]] = (
            np.packbits(bits, axis=1, bitorder="little").view(np.uint64).ravel()
        )
    return out


def clustered_codes(n: int, rng: np.random.Generator, args) -> np.ndarray:
    """Photo-like codes: noisy centres around real pHashes, each with a few close copies."""
    seeds = photo_seeds()
    centres = n // args.cluster_size + 1
    centre = seeds[rng.integers(0, seeds.size, centres)] ^ bit_noise(
        rng, centres, args.centre_noise
    )
    codes = np.repeat(centre, args.cluster_size)[:n] ^ bit_noise(rng, n, args.copy_noise)
    return codes[rng.permutation(n)]


def near_copies(rng: np.random.Generator, codes: np.ndarray, count: int) -> np.ndarray:
    """Queries: existing codes with 0..K bits flipped (every query has a match)."""
    picked = codes[rng.integers(0, codes.size, count)]
    flips = rng.integers(0, K + 1, count)
    ranks = np.argsort(rng.random((count, 64)), axis=1)
    chosen = np.arange(64)[None, :] < flips[:, None]
    bits = np.where(chosen, np.uint64(1) << ranks.astype(np.uint64), np.uint64(0))
    return picked ^ np.bitwise_or.reduce(bits, axis=1)


# --- figures ---------------------------------------------------------------------------


def _copy_text(cursor, sql: str, lines) -> None:
    with cursor.copy(sql) as copy:
        buffer = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= 50_000:
                copy.write("".join(buffer))
                buffer.clear()
        copy.write("".join(buffer))


def _indexes_dropped(admin, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' indexes that no constraint owns and return their definitions: a
    bulk load then writes the heap only and each index is built once, sorted, instead of
    taking ten million random insertions (about five times faster at 10 M rows)."""
    rows = admin.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(tables)],
    ).fetchall()
    for name, _ in rows:
        admin.execute(f"DROP INDEX {name}")
    return [definition for _, definition in rows]


@contextlib.contextmanager
def _bulk_load(tables: tuple[str, ...]):
    """A cursor in one transaction of a superuser connection for COPYing into tables:
    their indexes dropped before and rebuilt after, foreign-key and row triggers off for
    the load only (session_replication_role, as a restore does), then VACUUM ANALYZE so
    lookups' index-only scans see an up-to-date visibility map."""
    import psycopg
    from django.db import connection

    with psycopg.connect(
        host="127.0.0.1",
        port=PG["port"],
        user="postgres",
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    ) as admin:
        admin.execute("SET session_replication_role = replica")
        admin.execute("SET maintenance_work_mem = '1GB'")
        definitions = _indexes_dropped(admin, tables)
        with admin.transaction(), admin.cursor() as cursor:
            yield cursor
        for definition in definitions:
            admin.execute(definition)
        for table in tables:
            admin.execute(f"VACUUM ANALYZE {table}")


def fingerprints_load(codes: np.ndarray) -> None:
    """COPY one active asset and one fingerprint per code (ids 1..n), in one _bulk_load."""
    from django.db import connection

    from archive.services import collection_get_or_create
    from dedup.imaging import HASH_VERSION

    collection = collection_get_or_create(name="Rehearsal").pk
    connection.close()
    signed = codes.view(np.int64).tolist()
    bands = [((codes >> np.uint64(48 - 16 * b)) & np.uint64(0xFFFF)).tolist() for b in range(4)]
    n = codes.size
    with _bulk_load(("archive_asset", "dedup_fingerprint")) as cursor:
        _copy_text(
            cursor,
            "COPY archive_asset (id, sha256, size, format, width, height, colour_mode, "
            "frame_count, storage_alias, storage_key, state, role, collection_id, "
            "original_path, original_filename, ingested_at, exif) FROM STDIN",
            (
                f"{i + 1}\t{i:064x}\t1\tJPEG\t1\t1\tRGB\t1\thot\tr/{i}\tactive\toriginal\t"
                f"{collection}\tr/{i}.jpg\t{i}.jpg\t2026-01-01T00:00:00Z\t{{}}\n"
                for i in range(n)
            ),
        )
        _copy_text(
            cursor,
            "COPY dedup_fingerprint (id, asset_id, sha256, phash, dhash, phash_b0, "
            "phash_b1, phash_b2, phash_b3, low_information, pixel_sha256, hash_version, "
            "error, computed_at) FROM STDIN",
            (
                f"{i + 1}\t{i + 1}\t{i:064x}\t{signed[i]}\t{signed[i]}\t{bands[0][i]}\t"
                f"{bands[1][i]}\t{bands[2][i]}\t{bands[3][i]}\tf\t{i:064x}\t"
                f"{HASH_VERSION}\t\t2026-01-01T00:00:00Z\n"
                for i in range(n)
            ),
        )
        cursor.execute("SELECT setval('archive_asset_id_seq', %s)", [n])
        cursor.execute("SELECT setval('dedup_fingerprint_id_seq', %s)", [n])


def variants_load(codes: np.ndarray, per: int) -> None:
    """COPY `per` variant hashes for each fingerprint loaded by fingerprints_load: row i
    belongs to asset i // per + 1 (indexes dropped and rebuilt, as there)."""
    signed = codes.view(np.int64).tolist()
    bands = [((codes >> np.uint64(48 - 16 * b)) & np.uint64(0xFFFF)).tolist() for b in range(4)]
    table = "dedup_fingerprintvariant"
    with _bulk_load((table,)) as cursor:
        _copy_text(
            cursor,
            f"COPY {table} (id, fingerprint_id, asset_id, variant, phash, phash_b0, "
            "phash_b1, phash_b2, phash_b3) FROM STDIN",
            (
                f"{i + 1}\t{i // per + 1}\t{i // per + 1}\tv{i % per}\t{signed[i]}\t"
                f"{bands[0][i]}\t{bands[1][i]}\t{bands[2][i]}\t{bands[3][i]}\n"
                for i in range(codes.size)
            ),
        )
        cursor.execute(f"SELECT setval('{table}_id_seq', %s)", [codes.size])


def _lookup_timings(lookup, queries, codes, k: int, sample: int, per: int = 1) -> dict:
    """Per-query times of lookup(phash=, k=), and how it compares with brute force (the
    nearest of each asset's `per` codes; code i belongs to asset i // per + 1)."""
    timings = []
    for query in queries:
        t0 = time.perf_counter()
        lookup(phash=int(query), k=k)
        timings.append(time.perf_counter() - t0)
    equal = found = expected = 0
    for query in queries[:sample]:
        distances = np.bitwise_count(codes ^ query)
        brute: dict[int, int] = {}
        for i in np.flatnonzero(distances <= k).tolist():
            owner = i // per + 1
            brute[owner] = min(brute.get(owner, 64), int(distances[i]))
        got = lookup(phash=int(query), k=k)
        equal += got == brute
        expected += len(brute)
        found += len(brute.keys() & got.keys())
    p50, p95, p99 = (float(np.percentile(timings, q)) * 1000 for q in (50, 95, 99))
    return {
        "p95": p95,
        "met": found == expected and equal == min(sample, len(queries)),
        "text": f"k = {k}: p50/p95/p99 {p50:.2f}/{p95:.2f}/{p99:.2f} ms; recall "
        f"{100 * found / max(expected, 1):.1f} % ({found:,}/{expected:,}); equal to brute "
        f"force {equal}/{min(sample, len(queries))}",
    }


def fig_lookup(args, dist: str) -> list[dict]:
    """The database's band index and a process's in-memory index (dedup.lookup_memory),
    at k = 10 (the figure's goal) and k = 16 (what ingest asks: KEEPSAKE_VERIFY_DISTANCE)."""
    import bench_lookup
    from django.conf import settings
    from django.db import connection
    from django.test import override_settings

    from dedup.index import database_near_lookup, near_lookup
    from dedup.lookup_memory import memory_lookup_reset, memory_lookup_stats

    rng = np.random.default_rng(16)
    if dist == "uniform":
        codes, queries = bench_lookup.planted_codes(args.assets, args.queries, K, rng)
    else:
        codes = clustered_codes(args.assets, rng, args)
        queries = near_copies(rng, codes, args.queries)
    database_create(f"lookup_{dist}")
    start = time.perf_counter()
    fingerprints_load(codes)
    load_s = time.perf_counter() - start
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_table_size('dedup_fingerprint'), pg_indexes_size('dedup_fingerprint'), "
            "pg_table_size('archive_asset') + pg_indexes_size('archive_asset')"
        )
        table, indexes, assets = (v / 2**20 for v in cursor.fetchone())
    scale = f"{args.assets:,} fingerprints, {len(queries)} queries, {dist}"
    goal = "p95 ≤ 5 ms, recall 100 %, equal on the sample"
    verify = settings.KEEPSAKE_VERIFY_DISTANCE
    rows = []
    database_near_lookup(phash=int(queries[0]), k=K)  # connect and prepare outside the timings
    db = [
        _lookup_timings(database_near_lookup, queries, codes, k, args.exact_sample)
        for k in (K, verify)
    ]
    rows.append(
        {
            "figure": f"ingest-time lookup, {dist}, database index",
            "scale": scale,
            "result": f"{db[0]['text']}; {db[1]['text']}; load (COPY + VACUUM) {load_s:.0f} s; "
            f"fingerprint table {table:,.0f} MB + indexes {indexes:,.0f} MB, assets "
            f"{assets:,.0f} MB",
            "goal": goal,
            "met": db[0]["met"] and db[0]["p95"] <= 5,
        }
    )
    with override_settings(KEEPSAKE_LOOKUP_MEMORY_FROM=1):
        memory_lookup_reset()
        t0 = time.perf_counter()
        near_lookup(phash=int(queries[0]), k=K)  # the process loads its index here
        build_s = time.perf_counter() - t0
        stats = memory_lookup_stats()
        mem = [
            _lookup_timings(near_lookup, queries, codes, k, args.exact_sample) for k in (K, verify)
        ]
        memory_lookup_reset()
    rows.append(
        {
            "figure": f"ingest-time lookup, {dist}, in-memory index",
            "scale": scale,
            "result": f"{mem[0]['text']}; {mem[1]['text']}; loaded in {build_s:.1f} s, "
            f"{stats.get('bytes', 0) / 2**20:,.0f} MiB in the process (every answer re-read "
            "from the database)",
            "goal": goal,
            "met": mem[0]["met"] and mem[0]["p95"] <= 5,
        }
    )
    return rows


def fig_variant_lookup(args) -> dict:
    """The candidate rule's second ingest-time lookup: the new file's main pHash against
    every stored asset's variant hashes (turns, mirrors, windows), from the database."""
    from django.db import connection

    from dedup.index import VARIANTS, database_near_lookup
    from dedup.services import variant_distance

    per = VARIANTS_PER_ASSET
    n = args.variant_assets or max(args.assets // per, 100)
    rng = np.random.default_rng(49)
    codes = clustered_codes(n * per, rng, args)
    queries = near_copies(rng, codes, args.queries)
    database_create("lookup_variants")
    start = time.perf_counter()
    fingerprints_load(clustered_codes(n, rng, args))
    variants_load(codes, per)
    load_s = time.perf_counter() - start
    k = variant_distance()

    def lookup(*, phash: int, k: int) -> dict[int, int]:
        return database_near_lookup(phash=phash, k=k, table=VARIANTS)

    lookup(phash=int(queries[0]), k=k)  # connect and prepare outside the timings
    got = _lookup_timings(lookup, queries, codes, k, args.exact_sample, per=per)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_table_size('dedup_fingerprintvariant'), "
            "pg_indexes_size('dedup_fingerprintvariant')"
        )
        table, indexes = (v / 2**20 for v in cursor.fetchone())
    return {
        "figure": "ingest-time lookup, variant table, database index",
        "scale": f"{n:,} assets × {per} variants = {n * per:,} rows, {len(queries)} queries, "
        "clustered",
        "result": f"{got['text']}; load {load_s:.0f} s; variant table {table:,.0f} MB + "
        f"indexes {indexes:,.0f} MB",
        "goal": "(no goal of its own: ingest asks it beside figure 1's lookup)",
        "met": got["met"],
    }


def _allpairs_child(n: int, dist: str, argv: dict, out) -> None:
    """One all-pairs join in a fresh process, so its peak RSS is its own."""
    try:
        _allpairs_run(n, dist, argv, out)
    except BaseException as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _allpairs_run(n: int, dist: str, argv: dict, out) -> None:
    import bench_allpairs

    from dedup import mih

    rng = np.random.default_rng(2)
    if dist == "uniform":
        codes, ids, _, _ = bench_allpairs.make_codes(n=n, planted=n // 100, max_flips=K, rng=rng)
    else:
        codes = clustered_codes(n, rng, argparse.Namespace(**argv))
        ids = rng.permutation(n).astype(np.int64)
    before = peak_mib()
    bands = mih.choose_bands(n=n, k=K)
    start = time.perf_counter()
    pairs = mih.concat_pairs(chunks=list(mih.all_pairs(codes=codes, ids=ids, k=K, bands=bands)))
    seconds = time.perf_counter() - start
    peak = peak_mib()
    exact = bench_allpairs.check_distances(
        pairs=pairs, codes=codes, ids=ids, k=K
    ) and bench_allpairs.sample_complete(
        pairs=pairs, codes=codes, ids=ids, k=K, sample=argv["pair_sample"], rng=rng
    )
    out.put(
        {
            "seconds": seconds,
            "peak": peak,
            "before": before,
            "pairs": int(pairs.id_a.size),
            "bands": bands,
            "exact": exact,
        }
    )


def peak_mib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would carry the parent's across
    the exec of a spawned child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- where the machine's CPU goes (figure 4) ---------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> tuple[float, float]:
    """CPU seconds all cores have spent busy since boot (/proc/stat: user, nice, system, irq,
    softirq), and those the hypervisor gave to others while we wanted them (steal)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:3]) + fields[5] + fields[6]) / _TICK, fields[7] / _TICK


def _spin(count: int, out) -> None:
    start = time.perf_counter()
    total = 0
    for i in range(count):
        total += i * i % 7
    out.put(time.perf_counter() - start)


def machine_scaling(processes: int = 2, count: int = 20_000_000, repeats: int = 3) -> float:
    """How much more a pure-Python loop gets done with `processes` copies at once than with
    one, on this machine now (median of repeats): the most any number of workers can give."""
    ctx = multiprocessing.get_context("fork")
    ratios = []
    for _ in range(repeats):
        times = {}
        for n in (1, processes):
            out = ctx.Queue()
            children = [ctx.Process(target=_spin, args=(count, out)) for _ in range(n)]
            for child in children:
                child.start()
            took = [out.get() for _ in children]
            for child in children:
                child.join()
            times[n] = max(took)
        ratios.append(processes * times[1] / times[processes])
    return float(np.median(ratios))


def processes_cpu() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds used so far) of every process now."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(rest[1]), comm, (int(rest[11]) + int(rest[12])) / _TICK)
    return found


def cpu_by_group(
    before: dict, after: dict, groups: dict[str, int], role=None
) -> collections.Counter:
    """CPU seconds used between two processes_cpu() snapshots, by group: the process trees
    rooted at the pids of `groups` (the "workers" tree split by role(pid), the django-q2
    role from its process title), PostgreSQL's backends ("database"), and the rest.
    A process that ended in between is not counted (figure 4's processes live on)."""
    role = role or _cluster_role
    roots = {pid: name for name, pid in groups.items()}
    used: collections.Counter = collections.Counter()
    for pid, (_ppid, comm, seconds) in after.items():
        spent = seconds - before[pid][2] if pid in before else seconds
        group, up, seen = None, pid, 0
        while up in after and seen < 64:
            if up in roots:
                group = roots[up]
                break
            up, seen = after[up][0], seen + 1
        if group is None:
            group = "database" if comm == "postgres" else "other"
        elif group == "workers":
            group = role(pid)
        used[group] += spent
    return used


def _cluster_role(pid: int) -> str:
    """What a django-q2 process does, from the title it sets (setproctitle): a worker
    ("idle" or "processing"), the monitor saving results, the pusher taking tasks from the
    broker, or the cluster's sentinel and scheduler ("cluster")."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "cluster"
    words = title.split()
    for role in ("monitor", "pusher"):
        if words and words[-1] == role:
            return role
    if " idle" in title or " processing " in title:
        return "workers"
    return "cluster"


def child_result(child, out, timeout: float) -> dict:
    """The one result a child process puts, or why there is none."""
    import queue

    deadline = time.monotonic() + timeout
    while True:
        try:
            got = out.get(timeout=1)
            break
        except queue.Empty:
            if not child.is_alive():
                got = {"error": f"the process ended with exit code {child.exitcode}"}
                break
            if time.monotonic() > deadline:
                child.kill()
                got = {"timeout": True}
                break
    child.join()
    return got


def fig_allpairs(args, dist: str) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(
        target=_allpairs_child, args=(args.assets, dist, vars(args), out), daemon=True
    )
    child.start()
    got = child_result(child, out, args.allpairs_timeout)
    scale = f"{args.assets:,} codes, {dist}, 1 process"
    goal = "≤ 60 s, ≤ 2 GB, same pairs as brute force"
    if "error" in got:
        return {"scale": scale, "result": f"failed: {got['error']}", "goal": goal, "met": False}
    if got.get("timeout"):
        return {
            "scale": scale,
            "result": f"did not finish in {args.allpairs_timeout} s",
            "goal": goal,
            "met": False,
        }
    return {
        "scale": scale,
        "result": f"{got['seconds']:.1f} s, peak RSS {got['peak']:.0f} MiB (codes and "
        f"interpreter {got['before']:.0f} MiB), {got['pairs']:,} pairs, {got['bands']} bands, "
        f"equal to brute force on {args.pair_sample} codes: {'yes' if got['exact'] else 'NO'}",
        "goal": goal,
        "met": got["seconds"] <= 60 and got["peak"] <= 2048 and got["exact"],
    }


def jpegs(args) -> list[Path]:
    """12 MP camera-like JPEGs from scikit-image's photos (bench_fingerprint's maker)."""
    from bench_fingerprint import make_files

    if getattr(args, "_files", None) is None:
        directory = STACK.tmp / "jpegs"
        directory.mkdir(exist_ok=True)
        made = argparse.Namespace(
            count=args.files, width=4000, height=3000, quality=90, grain=3.0, seed=0
        )
        args._files = make_files(directory=directory, args=made)
    return args._files


def fig_ingest(args) -> dict:
    import imagehash
    from django.core.management import call_command
    from PIL import Image

    from archive.models import Asset

    files = jpegs(args)
    start = time.perf_counter()
    for path in files:
        with Image.open(path) as image:
            imagehash.phash(image)
    plain = len(files) / (time.perf_counter() - start)
    database_create("ingest")
    start = time.perf_counter()
    call_command(
        "ingest",
        str(files[0].parent),
        collection="Rehearsal",
        workers=1,
        no_progress=True,
        stdout=io.StringIO(),
    )
    whole = len(files) / (time.perf_counter() - start)
    stored = Asset.objects.filter(storage_alias="hot").count()
    return {
        "scale": f"{len(files)} JPEGs 4000×3000, S3 (moto), PostgreSQL, --workers 1",
        "result": f"whole ingest {whole:.1f} files/s, plain phash {plain:.1f} files/s: "
        f"{whole / plain:.2f}×; {stored} assets stored in S3",
        "goal": "≥ 4× plain phash per core",
        "met": whole / plain >= 4 and stored == len(files),
    }


def ingest_task(path: str, collection_id: int) -> str:
    """django-q2 task of figure 4: one whole ingest (storage, fingerprint, lookup, audit)."""
    from archive.ingest import asset_ingest_path
    from archive.models import Collection

    outcome = asset_ingest_path(
        path=path, collection=Collection.objects.get(pk=collection_id), background=False
    )
    return str(getattr(outcome, "status", outcome))


def decide_task(candidate_id: int, username: str) -> str:
    """django-q2 task of figure 4: one review decision (not a duplicate)."""
    from django.contrib.auth import get_user_model

    from dedup.models import DuplicateCandidate
    from dedup.review import candidate_decide

    if os.environ.get("KEEPSAKE_REHEARSAL_UNAUDITED") == "1":
        # --decisions-unaudited: this worker process drops the events instead of chaining
        # them (the decision itself is unchanged), so no chain head lock is taken.
        from archive import audit

        audit._chain_append = lambda events: None
    candidate_decide(
        candidate=DuplicateCandidate.objects.get(pk=candidate_id),
        decision="not_duplicate",
        actor=get_user_model().objects.get(username=username),
    )
    return "decided"


def _q_round(args, workers: int, number: int) -> tuple[float, float, float, dict, dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_q.brokers import get_broker
    from django_q.models import Failure, Success
    from django_q.tasks import async_task

    from archive.services import collection_get_or_create
    from dedup.models import DuplicateCandidate

    files = jpegs(args)
    name = f"workers{workers}r{number}"
    url = database_create(name)
    collection = collection_get_or_create(name="Rehearsal")
    get_user_model().objects.create_superuser("curator", "curator@example.org", "x-rehearsal")
    connection.close()
    env = {
        **os.environ,
        **s3_env(ENDPOINT, name),
        "DATABASE_URL": url,
        "KEEPSAKE_REDIS_URL": REDIS,
        "KEEPSAKE_Q_WORKERS": str(workers),
        "PYTHONPATH": f"{BENCH}{os.pathsep}{ROOT}",
        # The cluster as docs/deploy.md configures workers (unless the caller says otherwise).
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
        "KEEPSAKE_Q_SAVE_LIMIT": os.environ.get("KEEPSAKE_Q_SAVE_LIMIT", "0"),
        "KEEPSAKE_REHEARSAL_UNAUDITED": "1" if args.decisions_unaudited else "0",
    }
    broker = get_broker()  # one cluster name (it salts the task signatures), rounds in turn

    def finished(func: str) -> int:
        failed = Failure.objects.filter(func=func).first()
        if failed is not None:
            raise RuntimeError(f"{func} failed in the cluster: {failed.result}")
        return Success.objects.filter(func=func).count()

    def lock_waits() -> tuple[int, list[str]]:
        """The round's busy backends now, and the tables those waiting on a lock ask for."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wait_event_type = 'Lock', query FROM pg_stat_activity "
                "WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()",
                [name],
            )
            rows = cursor.fetchall()
        waiting = [re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', q or "") for lock, q in rows if lock]
        return len(rows), [m.group(1) if m else "?" for m in waiting]

    def wait(func: str, count: int, samples: list | None = None) -> None:
        done, moved = 0, time.monotonic()
        while (now := finished(func)) < count:
            if samples is not None:
                samples.append(lock_waits())
            if now > done:
                done, moved = now, time.monotonic()
            if time.monotonic() - moved > 120 or cluster.poll() is not None:
                raise RuntimeError(f"{func}: {finished(func)} of {count} done, cluster {log}")
            time.sleep(0.05)

    log = STACK.tmp / f"qcluster-{name}.log"
    cluster = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(3)  # the cluster forks its workers
        groups = {"workers": cluster.pid, "s3": STACK.s3_pid, "broker": STACK.redis_pid}
        cpu = {}
        start, busy0, procs0 = time.perf_counter(), machine_busy_s(), processes_cpu()
        for path in files:
            async_task("rehearsal.ingest_task", str(path), collection.pk, broker=broker)
        wait("rehearsal.ingest_task", len(files))
        wall = time.perf_counter() - start
        ingest = len(files) / wall
        cpu["ingest"] = _cores(wall, busy0, procs0, groups)
        from archive.models import Asset

        ids = list(Asset.objects.order_by("pk").values_list("pk", flat=True))
        rows = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]][: args.decisions]
        DuplicateCandidate.objects.bulk_create(
            [
                DuplicateCandidate(
                    asset_a_id=a,
                    asset_b_id=b,
                    kind="similar",
                    phash_distance=9,
                    dhash_distance=9,
                    evidence={"reason": "rehearsal"},
                    status="pending",
                    found_by="scan",
                )
                for a, b in rows
            ],
            ignore_conflicts=True,  # the ingests' own lookups may have recorded some pairs
        )
        pending = list(DuplicateCandidate.objects.values_list("pk", flat=True))
        start, busy0, procs0 = time.perf_counter(), machine_busy_s(), processes_cpu()
        for pk in pending:
            async_task("rehearsal.decide_task", pk, "curator", broker=broker)
        samples: list[tuple[int, list[str]]] = []
        wait("rehearsal.decide_task", len(pending), samples)
        wall = time.perf_counter() - start
        decide = len(pending) / wall
        cpu["decisions"] = _cores(wall, busy0, procs0, groups)
    finally:
        cluster.terminate()
        cluster.wait(timeout=60)
    # Of the backends seen busy during the decisions (sampled every 50 ms), the share
    # waiting on a lock, and the table the waiting statements ask for.
    busy = sum(b for b, _ in samples)
    tables = collections.Counter(t for _, waiting in samples for t in waiting)
    return ingest, decide, (sum(tables.values()) / busy if busy else 0.0), tables, cpu


def _cores(wall: float, busy0: float, procs0: dict, groups: dict[str, int]) -> dict[str, float]:
    """Cores kept busy since the snapshot (busy0, procs0), in all and by group."""
    used = cpu_by_group(procs0, processes_cpu(), groups)
    busy, steal = machine_busy_s()
    return {"machine": (busy - busy0[0]) / wall, "steal": (steal - busy0[1]) / wall} | {
        name: seconds / wall for name, seconds in used.items()
    }


# Rounds of figure 4 in a balanced order (1, 2, 4, then 4, 2, 1, ...), so a drift of the
# machine's speed during the run, or the first round's cold caches, weighs on every worker
# count alike; each figure is the median of its rounds.
def _round_order(repeats: int) -> list[int]:
    order = []
    for number in range(repeats):
        order += [1, 2, 4] if number % 2 == 0 else [4, 2, 1]
    return order


def _shares(counts: collections.Counter) -> list[tuple[str, float]]:
    total = sum(counts.values())
    return [(key, n / total) for key, n in counts.most_common()] if total else []


def fig_workers(args) -> dict:
    rates: dict[int, list[tuple]] = {1: [], 2: [], 4: []}
    scaling = [machine_scaling()]
    for number, workers in enumerate(_round_order(args.worker_rounds)):
        rates[workers].append(_q_round(args, workers, number))
    scaling.append(machine_scaling())
    median = {
        w: tuple(float(np.median([r[i] for r in rs])) for i in range(3)) for w, rs in rates.items()
    }
    ingest_ratio = median[2][0] / median[1][0]
    decide_ratio = median[2][1] / median[1][1]
    shown = "; ".join(
        f"{w}: {i:.1f} files/s, {d:.0f} decisions/s ({lock:.0%} of busy backends on a lock)"
        for w, (i, d, lock) in median.items()
    )
    spread = "; ".join(
        f"{w}: " + ", ".join(f"{i:.1f}/{d:.0f}" for i, d, *_ in rs) for w, rs in rates.items()
    )
    waited = collections.Counter()
    for rs in rates.values():
        for *_, tables, _cpu in rs:
            waited.update(tables)
    on = ", ".join(f"{table} {share:.0%}" for table, share in _shares(waited))
    # Where the cores went: the median cores kept busy per phase and worker count, in all
    # and by process group. With one worker keeping c of the n cores busy, no number of
    # workers can give more than n / c times one worker's rate on this machine.
    cores = os.cpu_count() or 1
    used = {}
    for phase in ("ingest", "decisions"):
        for w, rs in rates.items():
            groups = {g for r in rs for g in r[-1][phase]}
            used[phase, w] = {
                g: float(np.median([r[-1][phase].get(g, 0.0) for r in rs])) for g in groups
            }
    ceiling = {
        phase: cores / max(used[phase, 1]["machine"], 1e-9) for phase in ("ingest", "decisions")
    }
    order = ("workers", "monitor", "pusher", "cluster", "database", "s3", "broker", "other")
    busy = "; ".join(
        f"{phase} with {w}: {u['machine']:.2f} of {cores}, steal {u['steal']:.2f} ("
        + ", ".join(f"{g} {u.get(g, 0.0):.2f}" for g in order)
        + ")"
        for (phase, w), u in used.items()
    )
    return {
        "scale": f"{args.files} 12 MP JPEGs and {args.decisions} decisions per round, "
        f"{args.worker_rounds} rounds per worker count, Redis broker, S3, PostgreSQL, "
        f"{os.cpu_count()} cores",
        "result": f"medians {shown}; 2 vs 1: ingest {ingest_ratio:.2f}×, decisions "
        f"{decide_ratio:.2f}× (rounds, files/s / decisions/s: {spread}; lock waits during "
        f"decisions by table asked for: {on or 'none'}); cores busy, medians: {busy}; "
        f"so at most {ceiling['ingest']:.2f}× (ingest) and {ceiling['decisions']:.2f}× "
        f"(decisions) on {cores} cores; 2 processes of a pure-Python loop against 1, "
        f"before and after the rounds: {scaling[0]:.2f}×, {scaling[1]:.2f}×",
        "goal": "2 workers ≥ 1.8× one",
        "met": ingest_ratio >= 1.8 and decide_ratio >= 1.8,
    }


def fig_queue(args) -> dict:
    import bench_queue
    from django.contrib.auth import get_user_model
    from django.test import Client

    database_create("queue")
    bench_queue.load(args.pairs)
    user = get_user_model().objects.create_superuser("bench", "bench@example.org", "x-bench")
    client = Client()
    client.force_login(user)
    base = "/admin/dedup/duplicatecandidate/"
    pages = [
        ("first page", base),
        ("kind=similar", base + "?kind__exact=similar"),
        ("page 50", base + "?status__exact=pending&p=50"),
    ]
    shown, worst, counts = [], 0.0, set()
    for label, url in pages:
        median, p95, queries = bench_queue.measure(client, url, args.requests)
        shown.append(f"{label} {median:.0f} ms (p95 {p95:.0f}), {queries} queries")
        worst = max(worst, median)
        counts.add(queries)
    return {
        "scale": f"{args.pairs:,} pending pairs, {args.requests} requests per page",
        "result": "; ".join(shown),
        "goal": "≤ 150 ms server time, constant query count",
        "met": worst <= 150 and len(counts) == 1,
    }


def events_load(count: int) -> None:
    """COPY count chained audit events (hashes computed as archive.audit seals them)."""
    from django.db import connection

    from archive.audit import event_hash
    from archive.models import AuditChainHead

    head, _ = AuditChainHead.objects.get_or_create(pk=1)
    sequence, previous = head.last_sequence, head.last_hash
    base = 1_780_000_000_000_000  # microseconds since the epoch, 2026-05-28
    import datetime as dt

    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(
            "COPY archive_auditevent (sequence, created_at, actor_name, verb, object_type, "
            "object_id, before, after, reason, previous_hash, hash) FROM STDIN"
        ) as copy:
            for i in range(count):
                sequence += 1
                moment = dt.datetime.fromtimestamp((base + i) / 1e6, tz=dt.UTC)
                created = moment.isoformat(timespec="microseconds")
                after = {"size_kb": i % 9000, "tier": "hot"}
                digest = event_hash(
                    sequence=sequence,
                    created_at=created,
                    actor_name="system",
                    verb="asset.ingested",
                    object_type="asset",
                    object_id=str(i),
                    before=None,
                    after=after,
                    reason="",
                    previous_hash=previous,
                )
                copy.write_row(
                    (
                        sequence,
                        created,
                        "system",
                        "asset.ingested",
                        "asset",
                        str(i),
                        None,
                        json.dumps(after),
                        "",
                        previous,
                        digest,
                    )
                )
                previous = digest
    raw.commit()
    AuditChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=previous)


def _audit_child(url: str, path: str, out) -> None:
    try:
        _audit_run(url, path, out)
    except BaseException as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _audit_run(url: str, path: str, out) -> None:
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from archive.audit_export import AuditExportFilter, audit_export_to_file, audit_export_verify

    before = peak_mib()
    start = time.perf_counter()
    result, _ = audit_export_to_file(path=path, filters=AuditExportFilter(), fmt="jsonl")
    export_s = time.perf_counter() - start
    export_peak = peak_mib()
    start = time.perf_counter()
    report = audit_export_verify(path=path)
    verify_s = time.perf_counter() - start
    peak = peak_mib()
    out.put(
        {
            "rows": result.rows,
            "export": export_s,
            "verify": verify_s,
            "before": before,
            "export_peak": export_peak,
            "peak": peak,
            "ok": report.ok,
            "checked": report.rows,
        }
    )


def fig_audit(args) -> dict:
    from django.db import connection

    url = database_create("audit")
    events_load(args.events)
    connection.close()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_audit_child, args=(url, str(STACK.tmp / "audit.jsonl"), out))
    child.start()
    got = child_result(child, out, 3600)
    if "checked" not in got:
        raise RuntimeError(got)
    rows = got["checked"]
    export_rate, verify_rate = rows / got["export"], rows / got["verify"]
    return {
        "scale": f"{args.events:,} events (JSON lines), own process",
        "result": f"export {export_rate:,.0f} events/s, verify {verify_rate:,.0f} events/s, "
        f"{rows:,} rows verified {'intact' if got['ok'] else 'BROKEN'}; peak RSS "
        f"{got['peak']:.0f} MiB (Django loaded {got['before']:.0f} MiB)",
        "goal": "≥ 50,000 events/s, ≤ 200 MB",
        "met": min(export_rate, verify_rate) >= 50_000 and got["peak"] <= 200 and got["ok"],
    }


# --- figure 6: retention enforcement and the rolling scan, several workers -------------

# The mix of due work (fractions of --retention-assets): quarantined replaced duplicates
# whose restore window closed, without a disposition request (enforcement files one) or
# in an approved request (enforcement purges them); replaced duplicates never quarantined
# (enforcement quarantines them: bytes copied hot -> quarantine); derivatives past a
# "cold after 365 days" policy (moved hot -> cold). Replaced assets come in pairs under
# one canonical, as consolidation leaves them.
RETENTION_MIX = {"request": 0.40, "purge": 0.25, "quarantine": 0.20, "cold": 0.15}
# Groups (a canonical's pair, or one derivative) under a legal hold: blocked, untouched.
HELD_SHARE = 0.01
PURGE_REQUEST_SIZE = 1000
DUE_VERBS = ("asset.quarantine_started", "asset.quarantined", "asset.moved", "asset.purged")


def _retention_layout(n: int, rng: np.random.Generator) -> dict:
    """Asset ids per kind of due work, their canonicals, and which of them are held."""
    counts = {kind: int(n * share) for kind, share in RETENTION_MIX.items()}
    counts["cold"] += n - sum(counts.values())
    next_id, layout = 1, {"canonical": [], "held": set(), "replaced_by": {}}
    for kind, count in counts.items():
        ids = list(range(next_id, next_id + count))
        next_id += count
        layout[kind] = ids
        if kind == "cold":
            layout["held"] |= {i for i in ids if rng.random() < HELD_SHARE}
            continue
        for pair in range(0, count, 2):
            canonical, members = next_id + pair // 2, ids[pair : pair + 2]
            layout["canonical"].append(canonical)
            layout["replaced_by"].update(dict.fromkeys(members, canonical))
            if rng.random() < HELD_SHARE:
                layout["held"].update(members)
        next_id += (count + 1) // 2
    layout["last"] = next_id - 1
    return layout


def _content(asset_id: int) -> bytes:
    return f"rehearsal asset {asset_id}\n".encode()


def _asset_rows(layout: dict, collection: int) -> tuple[list[str], dict[int, tuple]]:
    """COPY lines of archive_asset, and (sha256, alias, key) of each asset."""
    import datetime as dt
    import hashlib

    now = dt.datetime.now(dt.UTC)
    old, lines, where = (now - dt.timedelta(days=400)).isoformat(), [], {}
    kind_of = {i: kind for kind in RETENTION_MIX for i in layout[kind]}
    for asset_id in range(1, layout["last"] + 1):
        kind = kind_of.get(asset_id, "canonical")
        sha = hashlib.sha256(_content(asset_id)).hexdigest()
        key = f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
        quarantined = kind in ("request", "purge")
        alias = "quarantine" if quarantined else "hot"
        state = "quarantined" if quarantined else "active"
        role = "derivative" if kind == "cold" else "original"
        replaced = layout["replaced_by"].get(asset_id, r"\N")
        where[asset_id] = (sha, alias, key, kind)
        lines.append(
            f"{asset_id}\t{sha}\t{len(_content(asset_id))}\tJPEG\t640\t480\tRGB\t1\t{alias}\t"
            f"{key}\t{state}\t{role}\t{replaced}\t{collection}\tr/{asset_id}.jpg\t"
            f"{asset_id}.jpg\t{old}\t{{}}\n"
        )
    return lines, where


def _bytes_write(where: dict[int, tuple], backend: str) -> int:
    """Store the bytes enforcement reads or deletes (not those only a request names)."""
    wanted = [(i, alias, key) for i, (_, alias, key, kind) in where.items() if kind != "request"]
    if backend == "local":
        root = STACK.tmp / "media-retention"
        for asset_id, alias, key in wanted:
            path = root / alias / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_content(asset_id))
        return len(wanted)
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    client = boto3.client(
        "s3", endpoint_url=ENDPOINT, region_name="us-east-1", **_boto_credentials()
    )

    def put(row):
        asset_id, alias, key = row
        client.put_object(Bucket=HOT, Key=f"retention/{alias}/{key}", Body=_content(asset_id))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, wanted))
    return len(wanted)


def _boto_credentials() -> dict:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def _retention_records(cursor, layout: dict, approver: int) -> None:
    """Quarantine records (windows closed), approved requests, the legal hold's assets."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    started, deadline = (now - dt.timedelta(days=40)).isoformat(), now - dt.timedelta(days=10)
    quarantined = layout["request"] + layout["purge"]
    _copy_text(
        cursor,
        "COPY retention_quarantinerecord (asset_id, reason, quarantined_at, restore_deadline, "
        "previous_state, previous_alias) FROM STDIN",
        (
            f"{i}\treplaced by asset {layout['replaced_by'][i]}\t{started}\t"
            f"{deadline.isoformat()}\tactive\thot\n"
            for i in quarantined
        ),
    )
    purge = layout["purge"]
    requests = (len(purge) + PURGE_REQUEST_SIZE - 1) // PURGE_REQUEST_SIZE
    asked, approved = (now - dt.timedelta(days=9)).isoformat(), (now - dt.timedelta(days=8))
    _copy_text(
        cursor,
        "COPY retention_dispositionrequest (id, reason, requested_at, approved_by_id, "
        "approved_at) FROM STDIN",
        (
            f"{r + 1}\trestore windows closed (rehearsal)\t{asked}\t{approver}\t"
            f"{approved.isoformat()}\n"
            for r in range(requests)
        ),
    )
    _copy_text(
        cursor,
        "COPY retention_dispositionitem (request_id, asset_id, outcome) FROM STDIN",
        (f"{n // PURGE_REQUEST_SIZE + 1}\t{i}\t\n" for n, i in enumerate(purge)),
    )
    cursor.execute("SELECT setval('retention_dispositionrequest_id_seq', %s)", [max(requests, 1)])


def _scan_fingerprints(cursor, layout: dict, new: int, collection: int, rng) -> int:
    """A fingerprint for every asset (the index), then `new` assets fingerprinted since
    the last rolling scan: uniform codes, a tenth of them near copies of indexed ones."""
    from dedup.imaging import HASH_VERSION

    base = layout["last"]
    codes = rng.integers(0, 2**64, base + new, dtype=np.uint64)
    copies = rng.random(new) < 0.10
    sources = rng.integers(0, base, new)
    flips = bit_noise(rng, new, 3 / 64)
    codes[base:] = np.where(copies, codes[sources] ^ flips, codes[base:])
    import datetime as dt
    import hashlib

    now = dt.datetime.now(dt.UTC).isoformat()
    _copy_text(
        cursor,
        "COPY archive_asset (id, sha256, size, format, width, height, colour_mode, "
        "frame_count, storage_alias, storage_key, state, role, collection_id, "
        "original_path, original_filename, ingested_at, exif) FROM STDIN",
        (
            f"{i}\t{hashlib.sha256(_content(i)).hexdigest()}\t{len(_content(i))}\tJPEG\t640\t"
            f"480\tRGB\t1\thot\tnew/{i}.jpg\tactive\toriginal\t{collection}\tnew/{i}.jpg\t"
            f"{i}.jpg\t{now}\t{{}}\n"
            for i in range(base + 1, base + new + 1)
        ),
    )
    signed = codes.view(np.int64).tolist()
    bands = [((codes >> np.uint64(48 - 16 * b)) & np.uint64(0xFFFF)).tolist() for b in range(4)]
    shas = {}
    _copy_text(
        cursor,
        "COPY dedup_fingerprint (id, asset_id, sha256, phash, dhash, phash_b0, phash_b1, "
        "phash_b2, phash_b3, low_information, pixel_sha256, hash_version, error, "
        "computed_at) FROM STDIN",
        (
            f"{i + 1}\t{i + 1}\t{shas.setdefault(i, hashlib.sha256(_content(i + 1)).hexdigest())}"
            f"\t{signed[i]}\t{signed[i]}\t{bands[0][i]}\t{bands[1][i]}\t{bands[2][i]}\t"
            f"{bands[3][i]}\tf\t\t{HASH_VERSION}\t\t{now}\n"
            for i in range(base + new)
        ),
    )
    cursor.execute("SELECT setval('archive_asset_id_seq', %s)", [base + new])
    cursor.execute("SELECT setval('dedup_fingerprint_id_seq', %s)", [base + new])
    # Everything up to the loaded index was scanned before: the rolling scan starts there.
    cursor.execute(
        "INSERT INTO dedup_scanrun (started_at, finished_at, parameters, recorded, "
        "incremental, high_water_fingerprint_id, summary) "
        "VALUES (now(), now(), '{}', true, true, %s, '{}')",
        [base],
    )
    return int(copies.sum())


def retention_load(args) -> dict:
    """Load the due work of figure 6 and the new fingerprints of its rolling scan."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from archive.models import Asset, LegalHold
    from archive.services import collection_get_or_create
    from retention.policies import policy_create

    rng = np.random.default_rng(6)
    layout = _retention_layout(args.retention_assets, rng)
    collection = collection_get_or_create(name="Rehearsal").pk
    approver = get_user_model().objects.create_superuser(
        "approver", "approver@example.org", "x-rehearsal"
    )
    policy_create(
        key="derivatives-cold",
        name="Derivatives: cold storage after a year",
        role=Asset.Role.DERIVATIVE,
        replaced=False,
        cold_after_days=365,
        actor=None,
    )
    lines, where = _asset_rows(layout, collection)
    raw = connection.connection
    with raw.cursor() as cursor:
        _copy_text(
            cursor,
            "COPY archive_asset (id, sha256, size, format, width, height, colour_mode, "
            "frame_count, storage_alias, storage_key, state, role, replaced_by_id, "
            "collection_id, original_path, original_filename, ingested_at, exif) FROM STDIN",
            lines,
        )
        # Catalogue entries stay on the canonicals (consolidation moved them there) and on
        # the derivatives; none is published.
        described = layout["canonical"] + layout["cold"]
        _copy_text(
            cursor,
            "COPY archive_catalogueentry (asset_id, collection_id, title, description, "
            "accession_number, creator, subjects, published, published_sha256, created_at) "
            "FROM STDIN",
            (f"{i}\t{collection}\tRecord {i}\t\t\t\t[]\tf\t\tnow\n" for i in described),
        )
        _retention_records(cursor, layout, approver.pk)
        planted = _scan_fingerprints(cursor, layout, args.scan_new, collection, rng)
    raw.commit()
    hold = LegalHold.objects.create(
        matter_reference="REH-6", reason="rehearsal matter", placed_by=approver
    )
    with raw.cursor() as cursor:
        _copy_text(
            cursor,
            "COPY archive_legalhold_assets (legalhold_id, asset_id) FROM STDIN",
            (f"{hold.pk}\t{i}\n" for i in sorted(layout["held"])),
        )
    raw.commit()
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    raw.autocommit = False
    stored = _bytes_write(where, args.retention_storage)
    return {"layout": layout, "stored": stored, "planted": planted}


def _retention_env(url: str, backend: str) -> dict[str, str]:
    env = {"DATABASE_URL": url, "KEEPSAKE_STORAGE_BACKEND": backend}
    if backend == "local":
        env["KEEPSAKE_MEDIA_ROOT"] = str(STACK.tmp / "media-retention")
    else:
        env.update(s3_env(ENDPOINT, "retention"))
    return env


def _enforce_attempted(result: str) -> int:
    # retention_enforce_task answers "P planned, A attempted, B blocked".
    return int(result.split(", ")[1].split()[0])


def _retention_child(env: dict, seconds: float, start, out) -> None:
    try:
        profile_dir = os.environ.get("KEEPSAKE_REHEARSAL_PROFILE")
        if not profile_dir:
            _retention_worker(env, seconds, start, out)
            return
        # A profile of each worker (read with `python -m pstats FILE`), for finding
        # where an enforcement step spends its time.
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(_retention_worker, env, seconds, start, out)
        Path(profile_dir).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(Path(profile_dir) / f"worker-{os.getpid()}.prof"))
    except BaseException as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _retention_worker(env: dict, seconds: float, start, out) -> None:
    """One worker: the production task entry points in turn until neither finds work."""
    os.environ.update(env)
    import logging

    import django

    django.setup()
    # Refusals and conflicts (a certificate two purges built at once) are logged; what
    # they left is counted from the database instead.
    logging.disable(logging.ERROR)
    from dedup.services import SCAN_CHUNK
    from dedup.tasks import scan_incremental_task
    from retention.tasks import retention_enforce_task

    before = peak_mib()
    start.wait()
    # No task starts after the deadline; one under way finishes.
    deadline = time.time() + seconds
    spent = {"enforce": 0.0, "scan": 0.0}
    calls = {"enforce": 0, "scan": 0}
    ended = {"enforce": None, "scan": None}
    while None in ended.values() and time.time() < deadline:
        if ended["enforce"] is None:
            t0 = time.perf_counter()
            if _enforce_attempted(retention_enforce_task()) == 0:
                ended["enforce"] = time.time()
            spent["enforce"] += time.perf_counter() - t0
            calls["enforce"] += 1
        if ended["scan"] is None:
            t0 = time.perf_counter()
            if f"'fingerprints': {SCAN_CHUNK}," not in scan_incremental_task():
                ended["scan"] = time.time()
            spent["scan"] += time.perf_counter() - t0
            calls["scan"] += 1
    now = time.time()
    out.put(
        {
            "before": before,
            "peak": peak_mib(),
            "spent": spent,
            "calls": calls,
            # None: stopped at the deadline with work left.
            "ended": ended,
            "stopped": now,
        }
    )


def _twice(sql: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS twice")  # noqa: S608 - fixed text
        return cursor.fetchone()[0]


def retention_doubles() -> dict[str, int]:
    """Items the record shows processed more than once (each should be 0)."""
    verbs = ", ".join(f"'{verb}'" for verb in DUE_VERBS)
    return {
        "audit events per asset": _twice(
            "SELECT verb, object_id FROM archive_auditevent WHERE object_type = "  # noqa: S608
            f"'archive.asset' AND verb IN ({verbs}) GROUP BY verb, object_id "
            "HAVING count(*) > 1"
        ),
        "requests per asset": _twice(
            "SELECT asset_id FROM retention_dispositionitem GROUP BY asset_id HAVING count(*) > 1"
        ),
        "moves per asset": _twice(
            "SELECT asset_id, kind FROM retention_pendingmove WHERE step IN "
            "('switched', 'done') GROUP BY asset_id, kind HAVING count(*) > 1"
        ),
        "certificates per item": _twice(
            "SELECT item_id FROM retention_certifieditem GROUP BY item_id HAVING count(*) > 1"
        ),
    }


def scan_doubles() -> dict[str, int]:
    return {
        "fingerprints per finished scan": _twice(
            "SELECT f.id FROM dedup_fingerprint f JOIN dedup_scanrun s ON s.incremental "
            "AND s.finished_at IS NOT NULL AND s.summary <> '{}' "
            "AND f.id > (s.parameters->>'since_fingerprint')::bigint "
            "AND f.id <= s.high_water_fingerprint_id GROUP BY f.id HAVING count(*) > 1"
        ),
        "flags per pair": _twice(
            "SELECT object_id FROM archive_auditevent WHERE verb = 'candidate.flagged' "
            "GROUP BY object_id HAVING count(*) > 1"
        ),
    }


def _count(sql: str, params: list) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# What enforcement leaves each kind of due asset as, read back with SQL.
_DONE_SQL = {
    "request": "EXISTS (SELECT 1 FROM retention_dispositionitem i WHERE i.asset_id = a.id)",
    "purge": "a.state = 'purged'",
    "quarantine": "a.state = 'quarantined' AND a.storage_alias = 'quarantine'",
    "cold": "a.state = 'active' AND a.storage_alias = 'cold'",
}


def retention_outcome(layout: dict) -> dict:
    """What enforcement and the scan left, per kind, read back from the database."""
    from archive.models import Asset
    from archive.selectors import frozen_asset_ids
    from dedup.models import DuplicateCandidate, ScanRun

    frozen = sorted(Asset.objects.filter(pk__in=frozen_asset_ids()).values_list("pk", flat=True))
    done, due, held, touched = {}, {}, 0, 0
    for kind in RETENTION_MIX:
        ids = layout[kind]
        span = [ids[0], ids[-1]] if ids else [0, -1]
        where = "FROM archive_asset a WHERE a.id BETWEEN %s AND %s AND "
        done[kind] = _count(
            f"SELECT count(*) {where} NOT a.id = ANY(%s) AND {_DONE_SQL[kind]}",  # noqa: S608
            [*span, frozen],
        )
        kind_held = _count(f"SELECT count(*) {where} a.id = ANY(%s)", [*span, frozen])  # noqa: S608
        due[kind] = len(ids) - kind_held
        held += kind_held
        touched += _count(
            f"SELECT count(*) {where} a.id = ANY(%s) AND {_DONE_SQL[kind]}",  # noqa: S608
            [*span, frozen],
        )
    runs = ScanRun.objects.filter(incremental=True, finished_at__isnull=False)
    scanned = sum(run.summary.get("fingerprints", 0) for run in runs.exclude(summary={}))
    return {
        "done": done,
        "due": due,
        "held": held,
        "held_touched": touched,
        "scanned": scanned,
        "candidates": DuplicateCandidate.objects.count(),
        "unfinished_claims": ScanRun.objects.filter(
            incremental=True, finished_at__isnull=True
        ).count(),
    }


def _uncertified() -> int:
    # Purged items whose certificate a conflict left to the daily sweep.
    return _count(
        "SELECT count(*) FROM retention_dispositionitem i JOIN archive_asset a ON "
        "a.id = i.asset_id AND a.state = 'purged' WHERE NOT EXISTS (SELECT 1 FROM "
        "retention_certifieditem c WHERE c.item_id = i.id)",
        [],
    )


def deadlocks_logged() -> list[str]:
    """The server log's deadlock reports (what each process waited for, and its query)."""
    log = STACK.tmp / "pg" / "log"
    if not log.exists():
        return []
    reports, current = [], None
    for line in log.read_text(errors="replace").splitlines():
        if "ERROR:  deadlock detected" in line:
            current = [line]
            reports.append(current)
        elif current is not None and (
            # Continuation lines (queries span lines) carry no log-line prefix (a timestamp).
            not line[:1].isdigit()
            or any(k in line for k in ("DETAIL:", "HINT:", "CONTEXT:", "STATEMENT:"))
        ):
            current.append(line)
        else:
            current = None
    return ["\n".join(report) for report in reports]


def _deadlocks(name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", [name])
        return cursor.fetchone()[0]


def _retention_database_settings(name: str, args) -> None:
    # Figure 6 runs at the server's defaults (JIT on, work_mem 4 MB) unless told otherwise.
    # The guard's legal-hold family query (a recursive CTE, archive.selectors) was once
    # estimated at hundreds of millions of rows, so JIT compiled it on every guard check
    # (about 4 s each) and its hash tables were sized to work_mem; its PostgreSQL form now
    # keeps the estimate small (tests/archive/test_family_query_work.py), and these
    # switches stay to compare.
    import psycopg

    settings = {"work_mem": args.retention_work_mem}
    if not args.retention_jit:
        settings["jit"] = "off"
    with psycopg.connect(
        host="127.0.0.1", port=PG["port"], user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        for setting, value in settings.items():
            admin.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")


def fig_retention(args) -> list[dict]:
    from django.conf import settings
    from django.db import connection

    name = "retention"
    url = database_create(name)
    _retention_database_settings(name, args)
    start = time.perf_counter()
    loaded = retention_load(args)
    load_s = time.perf_counter() - start
    layout = loaded["layout"]
    deadlocks_before = _deadlocks(name)
    connection.close()
    ctx = multiprocessing.get_context("spawn")
    gate = ctx.Barrier(args.scan_workers + 1)
    queues = [ctx.Queue() for _ in range(args.scan_workers)]
    env = _retention_env(url, args.retention_storage)
    if args.retention_batch:
        env["KEEPSAKE_RETENTION_BATCH"] = str(args.retention_batch)
    children = [
        ctx.Process(
            target=_retention_child, args=(env, args.retention_timeout, gate, out), daemon=True
        )
        for out in queues
    ]
    for child in children:
        child.start()
    gate.wait(timeout=300)
    began = time.time()
    results = [
        child_result(child, out, args.retention_timeout + 7200)
        for child, out in zip(children, queues, strict=True)
    ]
    errors = [r for r in results if "error" in r or r.get("timeout")]
    if errors:
        raise RuntimeError(f"a worker failed: {errors[0]}")
    stopped = max(r["stopped"] for r in results)
    outcome = retention_outcome(layout)
    deadlocks = _deadlocks(name) - deadlocks_before
    _deadlocks_save(args)
    storage = "local disk" if args.retention_storage == "local" else "S3 (moto)"
    jit = f"JIT {'on' if args.retention_jit else 'off'}, work_mem {args.retention_work_mem}"
    batch = args.retention_batch or settings.KEEPSAKE_RETENTION_BATCH
    run = {
        "results": results,
        "began": began,
        "stopped": stopped,
        "outcome": outcome,
        "deadlocks": deadlocks,
        "workers": f"{args.scan_workers} worker processes at once, PostgreSQL ({jit}), "
        f"{storage}, enforcement runs of {batch} steps per kind",
    }
    return [_enforcement_row(args, run, loaded, load_s), _scan_row(args, run, loaded)]


def _deadlocks_save(args) -> None:
    reports = deadlocks_logged()
    if not reports:
        return
    saved = args.json.parent / "deadlocks-6.log"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text("\n\n".join(reports) + "\n")
    print(f"   {len(reports)} deadlock reports in {saved}; the first:", file=sys.stderr)
    print(reports[0], file=sys.stderr)


def _span(run: dict, kind: str) -> tuple[float, bool]:
    """Seconds from the start until the last worker finished kind; whether all did."""
    ends = [r["ended"][kind] for r in run["results"]]
    if None in ends:
        return run["stopped"] - run["began"], False
    return max(ends) - run["began"], True


def _enforcement_row(args, run: dict, loaded: dict, load_s: float) -> dict:
    outcome, results = run["outcome"], run["results"]
    done, due = outcome["done"], outcome["due"]
    wall, finished = _span(run, "enforce")
    finished = finished and done == due
    spent = sum(r["spent"]["enforce"] for r in results)
    items = sum(done.values())
    doubles = retention_doubles()
    twice = sum(doubles.values())
    worst = max(r["peak"] for r in results)
    shown = ", ".join(f"{kind} {done[kind]:,}/{due[kind]:,}" for kind in RETENTION_MIX)
    mix = ", ".join(f"{kind} {share:.0%}" for kind, share in RETENTION_MIX.items())
    return {
        "figure": "retention enforcement, several workers",
        "scale": f"{args.retention_assets:,} due assets ({mix}; {outcome['held']:,} of them "
        f"under a legal hold), {run['workers']}",
        "result": f"{'' if finished else 'NOT FINISHED: '}{wall:,.0f} s, {items / wall:,.1f} "
        f"items/s ({items / max(spent, 1e-9):,.2f} per worker-second in enforcement tasks; "
        f"done/due {shown}); peak RSS per worker "
        f"{', '.join(format(r['peak'], '.0f') for r in results)} MiB (Django loaded "
        f"{max(r['before'] for r in results):.0f} MiB); processed twice {twice} "
        f"({', '.join(f'{k} {v}' for k, v in doubles.items())}); held assets touched "
        f"{outcome['held_touched']}; deadlocks {run['deadlocks']}; certificates left to the "
        f"daily sweep {_uncertified()}; load {load_s:.0f} s ({loaded['stored']:,} files)",
        "goal": f"all due work within {args.retention_timeout // 60} min, ≤ 500 MB per worker, "
        "0 items processed twice, 0 deadlocks",
        "met": finished
        and twice == 0
        and outcome["held_touched"] == 0
        and run["deadlocks"] == 0
        and worst <= 500,
    }


def _scan_row(args, run: dict, loaded: dict) -> dict:
    from dedup.services import variant_distance, verify_distance

    outcome, results = run["outcome"], run["results"]
    wall, finished = _span(run, "scan")
    scanned = outcome["scanned"]
    finished = finished and scanned == args.scan_new
    spent = sum(r["spent"]["scan"] for r in results)
    doubles = scan_doubles()
    twice = sum(doubles.values())
    return {
        "figure": "rolling scan, several workers",
        "scale": f"{args.scan_new:,} new fingerprints ({loaded['planted']:,} near copies) "
        f"against {loaded['layout']['last']:,} indexed, k {verify_distance()} (main) and "
        f"{variant_distance()} (variants), {run['workers']}, alongside the enforcement",
        "result": f"{'' if finished else 'NOT FINISHED: '}{scanned:,} scanned in {wall:,.0f} s, "
        f"{scanned / wall:,.1f} fingerprints/s ({scanned / max(spent, 1e-9):,.1f} per "
        f"worker-second in scan tasks), {outcome['candidates']:,} candidates; processed twice "
        f"{twice} ({', '.join(f'{k} {v}' for k, v in doubles.items())}); unfinished claims "
        f"{outcome['unfinished_claims']}",
        "goal": f"all new fingerprints within {args.retention_timeout // 60} min, "
        "0 processed twice",
        "met": finished and twice == 0,
    }


# --- main ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000, help="N of figures 1 and 2")
    parser.add_argument("--pairs", type=int, default=None, help="M of figure 5 (default N)")
    parser.add_argument("--events", type=int, default=None, help="E of figure 7 (default N)")
    parser.add_argument("--files", type=int, default=24, help="12 MP JPEGs (figures 3, 4)")
    parser.add_argument("--decisions", type=int, default=200, help="per round of figure 4")
    parser.add_argument(
        "--worker-rounds", type=int, default=3, help="rounds per worker count of figure 4"
    )
    parser.add_argument(
        "--decisions-unaudited",
        action="store_true",
        help="an experiment, never a setting: figure 4's decision tasks skip appending their "
        "audit events (no chain head), to measure what the head costs the decisions",
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--variant-assets",
        type=int,
        default=0,
        help="assets of figure 1's variant-table lookup (default: --assets / variants per asset)",
    )
    parser.add_argument("--exact-sample", type=int, default=50)
    parser.add_argument("--pair-sample", type=int, default=200)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--allpairs-timeout", type=int, default=900)
    parser.add_argument("--centre-noise", type=float, default=0.30)
    parser.add_argument("--copy-noise", type=float, default=0.04)
    parser.add_argument("--cluster-size", type=int, default=4)
    parser.add_argument(
        "--retention-assets", type=int, default=None, help="N of figure 6 (min(--assets, 1 M))"
    )
    parser.add_argument(
        "--scan-new", type=int, default=None, help="M of figure 6 (min(--assets // 10, 100,000))"
    )
    parser.add_argument("--scan-workers", type=int, default=2, help="W of figure 6")
    parser.add_argument(
        "--retention-storage",
        choices=("local", "s3"),
        default="local",
        help="figure 6's tiers: local disk, or moto's S3 (about 70 requests/s)",
    )
    parser.add_argument(
        "--retention-timeout", type=int, default=900, help="figure 6's workers stop after (s)"
    )
    parser.add_argument(
        "--retention-batch",
        type=int,
        default=None,
        help="steps per kind per enforcement run (default KEEPSAKE_RETENTION_BATCH, 500)",
    )
    parser.add_argument(
        "--retention-work-mem",
        default="4MB",
        help="work_mem of figure 6's database (PostgreSQL's default; the others use 64MB)",
    )
    parser.add_argument(
        "--retention-jit-off",
        dest="retention_jit",
        action="store_false",
        help="turn PostgreSQL's JIT off for figure 6 (on by default, as servers ship)",
    )
    parser.add_argument("--only", default="1,2,3,4,5,6,7", help="figures to run, e.g. 1,2")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "rehearsal" / "last.json")
    args = parser.parse_args()
    args.pairs = args.pairs or args.assets
    args.events = args.events or args.assets
    if args.retention_assets is None:
        args.retention_assets = min(args.assets, 1_000_000)
    if args.scan_new is None:
        args.scan_new = min(args.assets // 10, 100_000)
    args.only = {int(x) for x in args.only.split(",") if x}
    return args


STACK: Stack
ENDPOINT = REDIS = ""


def main() -> None:
    global STACK, ENDPOINT, REDIS
    args = parse_args()
    # A stop (SIGTERM) unwinds the stack, so every component is stopped and removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    debian_packages_ensure()
    rows = []
    with Stack() as STACK:
        url = STACK.postgres()
        PG["port"] = STACK.pg_port
        REDIS = STACK.redis()
        ENDPOINT = STACK.s3()
        os.environ.update(
            {
                "DATABASE_URL": url,
                "KEEPSAKE_REDIS_URL": REDIS,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                # django-q2 signs tasks: the enqueuer and the cluster share key and name.
                "KEEPSAKE_Q_NAME": "rehearsal",
                "DJANGO_SECRET_KEY": "rehearsal-" + os.urandom(24).hex(),
                "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
                "DJANGO_SECURE_SSL_REDIRECT": "0",  # the test client speaks plain HTTP
                **s3_env(ENDPOINT, "main"),
            }
        )
        print(
            f"PostgreSQL {STACK.pg_version} on 127.0.0.1:{STACK.pg_port}, Redis {REDIS}, "
            f"S3 {ENDPOINT} (buckets {HOT}, {COLD})",
            file=sys.stderr,
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.db import connection

        connection.close()
        plan = [
            (1, "ingest-time lookup, uniform", lambda: fig_lookup(args, "uniform")),
            (1, "ingest-time lookup, clustered", lambda: fig_lookup(args, "clustered")),
            (1, "ingest-time lookup, variant table", lambda: fig_variant_lookup(args)),
            (2, "all pairs, uniform", lambda: fig_allpairs(args, "uniform")),
            (2, "all pairs, clustered", lambda: fig_allpairs(args, "clustered")),
            (3, "whole ingest per core", lambda: fig_ingest(args)),
            (4, "django-q2 workers 1/2/4", lambda: fig_workers(args)),
            (5, "review queue", lambda: fig_queue(args)),
            (6, "retention enforcement + rolling scan", lambda: fig_retention(args)),
            (7, "audit export + verify", lambda: fig_audit(args)),
        ]
        for number, label, run in plan:
            if number not in args.only:
                continue
            print(f"== {number}. {label}", file=sys.stderr)
            start = time.perf_counter()
            try:
                got = run()
            except Exception as exc:  # one figure failing must not hide the others
                got = {
                    "scale": "",
                    "result": f"failed: {type(exc).__name__}: {exc}",
                    "goal": "",
                    "met": False,
                }
            seconds = time.perf_counter() - start
            for row in got if isinstance(got, list) else [got]:
                row.setdefault("figure", label)
                row.update(number=number, seconds=seconds)
                print(f"   {row['result']} ({row['seconds']:.0f} s)", file=sys.stderr)
                rows.append(row)
    print("\n| # | figure | scale | result | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        met = "yes" if row["met"] else "**no**"
        print(
            f"| {row['number']} | {row['figure']} | {row['scale']} | {row['result']} | "
            f"{row['goal']} | {met} |"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
