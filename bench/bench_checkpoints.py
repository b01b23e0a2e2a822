"""Sealing and proving the audit log at scale: time and peak memory per step.

    .venv/bin/python bench/bench_checkpoints.py [--events 1000000] [--filtered-every 50]

Fills a scratch SQLite database (var/bench_checkpoints.sqlite3, or DATABASE_URL's
PostgreSQL with a _bench_checkpoints suffix) with N chained audit events, then measures:
the first seal (reads every event), an incremental seal after 1,000 more events, one
inclusion proof from the database, a full and a filtered export bundle (every listed
event with its inclusion proof), and the standalone verifier on both bundles. Peak memory
is the process's maximum resident set size after each step (it only grows), so a step's
own peak is at most that figure. A markdown table goes to standard output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        from scratch import scratch_database

        return scratch_database(url, suffix="bench_checkpoints", reuse=False)
    path = ROOT / "var" / "bench_checkpoints.sqlite3"
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ROWS: list[tuple[str, float, float, str]] = []


def step(name: str, fn, note=""):
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    ROWS.append((name, seconds, peak_mb(), note(value) if callable(note) else note))
    print(f"{name}: {seconds:.1f} s, peak RSS {peak_mb():.0f} MB", file=sys.stderr, flush=True)
    return value


def fill(n: int, start: int = 0, batch: int = 20000) -> None:
    """N chained events written straight into the table (the chain is what audit_record
    would produce; only the per-event transaction is skipped, to fill quickly)."""
    from django.db import transaction

    from archive.audit import _timestamp, event_hash
    from archive.models import AuditChainHead, AuditEvent

    head, _ = AuditChainHead.objects.get_or_create(pk=1)
    sequence, previous = head.last_sequence, head.last_hash
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    verbs = ("asset.ingested", "candidate.confirmed", "legalhold.placed", "asset.moved")
    while sequence < start + n:
        events = []
        for _ in range(min(batch, start + n - sequence)):
            sequence += 1
            created = moment + dt.timedelta(seconds=sequence)
            # One event in 50 is a hold event: what a filtered export lists.
            verb = verbs[2] if sequence % 50 == 0 else verbs[sequence % 2 * 3]
            fields = dict(
                sequence=sequence,
                created_at=_timestamp(created),
                actor_name="system",
                verb=verb,
                object_type="archive.asset",
                object_id=str(sequence % 9973),
                before=None,
                after={"size": sequence * 7 % 100000, "tier": "hot"},
                reason="",
                previous_hash=previous,
            )
            previous = event_hash(**fields)
            events.append(
                AuditEvent(**{**fields, "created_at": created}, hash=previous, actor=None)
            )
        with transaction.atomic():
            AuditEvent.objects.bulk_create(events)
            AuditChainHead.objects.filter(pk=1).update(last_sequence=sequence, last_hash=previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = database_url()
    work = Path(tempfile.mkdtemp(prefix="bench-checkpoints-"))
    os.environ["KEEPSAKE_AUDIT_SIGNING_KEY_FILE"] = str(work / "key.pem")
    os.environ["KEEPSAKE_AUDIT_TSA_URL"] = ""

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from archive import verifier
    from archive.audit_export import (
        AuditExportFilter,
        audit_bundle_write,
        audit_export_filter_parse,
    )
    from archive.checkpoints import checkpoint_proof, checkpoint_seal, signing_key

    n = args.events
    step(f"fill {n:,} events", lambda: fill(n))
    first = step("first seal (reads every event)", checkpoint_seal, lambda c: f"size {c.size:,}")
    step("1,000 more events", lambda: fill(1000, start=n + 1))
    second = step("incremental seal (+1,001 events)", checkpoint_seal, lambda c: f"size {c.size:,}")
    step(
        "one inclusion proof from the database",
        lambda: checkpoint_proof(sequence=n // 2, checkpoint=second),
        lambda p: f"{len(p)} hashes",
    )
    keys = [signing_key().public_raw]
    results = {}
    for label, filters in (
        ("full", AuditExportFilter()),
        ("filtered (legalhold.*, 1 in 50)", audit_export_filter_parse(verb="legalhold.*")),
    ):
        path = work / f"{label.split()[0]}.zip"

        def export(path=path, filters=filters):
            with open(path, "wb") as fp:
                return audit_bundle_write(fp=fp, filters=filters, fmt="jsonl", actor=None)

        result = step(
            f"export bundle, {label}",
            export,
            lambda r, path=path: f"{r.listed:,} listed, {path.stat().st_size / 1e6:.0f} MB",
        )
        report = step(
            f"standalone verifier, {label}",
            lambda path=path: verifier.bundle_verify(path, public_keys=keys),
            lambda r: "ok" if r.ok else r.problems[0],
        )
        results[label] = (result, report)
    print(f"\n{n:,} events (first checkpoint {first.size:,}), {os.environ['DATABASE_URL'][:8]}…\n")
    print("| step | seconds | peak RSS so far (MB) | note |")
    print("|---|---:|---:|---|")
    for name, seconds, mb, note in ROWS:
        print(f"| {name} | {seconds:.1f} | {mb:.0f} | {note} |")


if __name__ == "__main__":
    main()
