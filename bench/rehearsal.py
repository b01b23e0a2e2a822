"""Scale rehearsal: the whole system on loopback at N assets, measured against its goals.

Run on purpose (`make rehearsal`, or directly):

    .venv/bin/python bench/rehearsal.py [--assets 100000] [--pairs N] [--events N] \
        [--files 24] [--only 1,2,5,7]

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
 4. ingest and review decisions through django-q2 (Redis broker, S3) with 1, 2, 4 workers;
 5. the review queue at M pending pairs (bench/bench_queue.py's pages);
 7. audit export (JSON lines) and verification of E events: events/s and peak RSS.
Figure 6 (retention enforcement and the rolling scan under several workers) is not
measured yet; the table says so.

The clustered distribution: the pHashes of the photos bundled with scikit-image (the ones
bench/bench_fingerprint.py uses) are the seeds; cluster centres are seeds with each bit
flipped with probability --centre-noise (0.30), and each centre has --cluster-size (4)
copies with each bit flipped with probability --copy-noise (0.04), so the codes share the
seeds' bit biases (crowded bands, the hard case for multi-index hashing) and hold real
near-duplicate clusters.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
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


def fingerprints_load(codes: np.ndarray) -> None:
    """COPY one active asset and one fingerprint per code (ids 1..n), then VACUUM ANALYZE
    so the lookup's index-only scans see an up-to-date visibility map."""
    from django.db import connection

    from archive.services import collection_get_or_create
    from dedup.imaging import HASH_VERSION

    collection = collection_get_or_create(name="Rehearsal").pk
    signed = codes.view(np.int64).tolist()
    bands = [((codes >> np.uint64(48 - 16 * b)) & np.uint64(0xFFFF)).tolist() for b in range(4)]
    n = codes.size
    raw = connection.connection
    with raw.cursor() as cursor:
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
            "COPY dedup_fingerprint (id, asset_id, sha256, phash, dhash, phash_b0, phash_b1, "
            "phash_b2, phash_b3, low_information, pixel_sha256, hash_version, error, "
            "computed_at) FROM STDIN",
            (
                f"{i + 1}\t{i + 1}\t{i:064x}\t{signed[i]}\t{signed[i]}\t{bands[0][i]}\t"
                f"{bands[1][i]}\t{bands[2][i]}\t{bands[3][i]}\tf\t\t{HASH_VERSION}\t\t"
                "2026-01-01T00:00:00Z\n"
                for i in range(n)
            ),
        )
        cursor.execute("SELECT setval('archive_asset_id_seq', %s)", [n])
        cursor.execute("SELECT setval('dedup_fingerprint_id_seq', %s)", [n])
    raw.commit()
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE archive_asset")
        cursor.execute("VACUUM ANALYZE dedup_fingerprint")
    raw.autocommit = False


def fig_lookup(args, dist: str) -> dict:
    import bench_lookup
    from django.db import connection

    from dedup.index import near_lookup

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
    near_lookup(phash=int(queries[0]), k=K)  # connect and prepare outside the timings
    timings = []
    for query in queries:
        t0 = time.perf_counter()
        near_lookup(phash=int(query), k=K)
        timings.append(time.perf_counter() - t0)
    equal = found = expected = 0
    sample = queries[: args.exact_sample]
    for query in sample:
        distances = np.bitwise_count(codes ^ query)
        brute = {int(i) + 1: int(distances[i]) for i in np.flatnonzero(distances <= K)}
        got = near_lookup(phash=int(query), k=K)
        equal += got == brute
        expected += len(brute)
        found += len(brute.keys() & got.keys())
    p50, p95, p99 = (float(np.percentile(timings, q)) * 1000 for q in (50, 95, 99))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_table_size('dedup_fingerprint'), pg_indexes_size('dedup_fingerprint'), "
            "pg_table_size('archive_asset') + pg_indexes_size('archive_asset')"
        )
        table, indexes, assets = (v / 2**20 for v in cursor.fetchone())
    return {
        "scale": f"{args.assets:,} fingerprints, {len(timings)} queries, {dist}",
        "result": f"p50/p95/p99 {p50:.1f}/{p95:.1f}/{p99:.1f} ms; recall "
        f"{100 * found / max(expected, 1):.1f} % ({found:,}/{expected:,}); equal to brute "
        f"force {equal}/{len(sample)}; load (COPY + VACUUM) {load_s:.0f} s; fingerprint "
        f"table {table:,.0f} MB + indexes {indexes:,.0f} MB, assets {assets:,.0f} MB",
        "goal": "p95 ≤ 5 ms, recall 100 %, equal on the sample",
        "met": p95 <= 5 and found == expected and equal == len(sample),
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

    candidate_decide(
        candidate=DuplicateCandidate.objects.get(pk=candidate_id),
        decision="not_duplicate",
        actor=get_user_model().objects.get(username=username),
    )
    return "decided"


def _q_round(args, workers: int) -> tuple[float, float]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_q.brokers import get_broker
    from django_q.models import Failure, Success
    from django_q.tasks import async_task

    from archive.services import collection_get_or_create
    from dedup.models import DuplicateCandidate

    files = jpegs(args)
    name = f"workers{workers}"
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
    }
    broker = get_broker()  # one cluster name (it salts the task signatures), rounds in turn

    def finished(func: str) -> int:
        failed = Failure.objects.filter(func=func).first()
        if failed is not None:
            raise RuntimeError(f"{func} failed in the cluster: {failed.result}")
        return Success.objects.filter(func=func).count()

    def wait(func: str, count: int) -> None:
        done, moved = 0, time.monotonic()
        while (now := finished(func)) < count:
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
        start = time.perf_counter()
        for path in files:
            async_task("rehearsal.ingest_task", str(path), collection.pk, broker=broker)
        wait("rehearsal.ingest_task", len(files))
        ingest = len(files) / (time.perf_counter() - start)
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
        start = time.perf_counter()
        for pk in pending:
            async_task("rehearsal.decide_task", pk, "curator", broker=broker)
        wait("rehearsal.decide_task", len(pending))
        decide = len(pending) / (time.perf_counter() - start)
    finally:
        cluster.terminate()
        cluster.wait(timeout=60)
    return ingest, decide


def fig_workers(args) -> dict:
    rates = {w: _q_round(args, w) for w in (1, 2, 4)}
    ingest_ratio = rates[2][0] / rates[1][0]
    decide_ratio = rates[2][1] / rates[1][1]
    shown = "; ".join(f"{w}: {i:.1f} files/s, {d:.0f} decisions/s" for w, (i, d) in rates.items())
    return {
        "scale": f"{args.files} 12 MP JPEGs and {args.decisions} decisions per round, "
        f"Redis broker, S3, PostgreSQL, {os.cpu_count()} cores",
        "result": f"{shown}; 2 vs 1: ingest {ingest_ratio:.2f}×, decisions {decide_ratio:.2f}×",
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


# --- main ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000, help="N of figures 1 and 2")
    parser.add_argument("--pairs", type=int, default=None, help="M of figure 5 (default N)")
    parser.add_argument("--events", type=int, default=None, help="E of figure 7 (default N)")
    parser.add_argument("--files", type=int, default=24, help="12 MP JPEGs (figures 3, 4)")
    parser.add_argument("--decisions", type=int, default=200, help="per round of figure 4")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--exact-sample", type=int, default=50)
    parser.add_argument("--pair-sample", type=int, default=200)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--allpairs-timeout", type=int, default=900)
    parser.add_argument("--centre-noise", type=float, default=0.30)
    parser.add_argument("--copy-noise", type=float, default=0.04)
    parser.add_argument("--cluster-size", type=int, default=4)
    parser.add_argument("--only", default="1,2,3,4,5,7", help="figures to run, e.g. 1,2")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "rehearsal" / "last.json")
    args = parser.parse_args()
    args.pairs = args.pairs or args.assets
    args.events = args.events or args.assets
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
            (2, "all pairs, uniform", lambda: fig_allpairs(args, "uniform")),
            (2, "all pairs, clustered", lambda: fig_allpairs(args, "clustered")),
            (3, "whole ingest per core", lambda: fig_ingest(args)),
            (4, "django-q2 workers 1/2/4", lambda: fig_workers(args)),
            (5, "review queue", lambda: fig_queue(args)),
            (7, "audit export + verify", lambda: fig_audit(args)),
        ]
        for number, label, run in plan:
            if number not in args.only:
                continue
            print(f"== {number}. {label}", file=sys.stderr)
            start = time.perf_counter()
            try:
                row = run()
            except Exception as exc:  # one figure failing must not hide the others
                row = {
                    "scale": "",
                    "result": f"failed: {type(exc).__name__}: {exc}",
                    "goal": "",
                    "met": False,
                }
            row.update(number=number, figure=label, seconds=time.perf_counter() - start)
            print(f"   {row['result']} ({row['seconds']:.0f} s)", file=sys.stderr)
            rows.append(row)
    rows.append(
        {
            "number": 6,
            "figure": "retention enforcement + rolling scan, several workers",
            "scale": "",
            "result": "not measured by this rehearsal yet",
            "goal": "time, memory, 0 items processed twice",
            "met": False,
        }
    )
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
