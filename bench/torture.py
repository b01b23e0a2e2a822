"""Concurrency torture, run on purpose: `make torture` (needs PostgreSQL).

    DATABASE_URL=postgres://USER:PASS@HOST:PORT/DB .venv/bin/python bench/torture.py \
        [--processes 4] [--seconds 120] [--seed 1]

It migrates a scratch database next to the one in DATABASE_URL (<db>_torture, recreated
each run), seeds a few originals with their smaller copies, runs the workers of
tests/torture/engine.py side by side for the given time, resumes interrupted moves,
checks the invariants and prints a table: operations by kind and outcome, deadlocks,
errors, violations and whether the audit chain verifies. Exit status 1 on any deadlock,
error or violation.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
# The test settings: background work inline, storage tiers in a fresh temporary folder.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

from scratch import scratch_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("bench/torture.py needs DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = scratch_database(url, suffix="torture", reuse=False)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the API client's "testserver" host
    call_command("migrate", verbosity=0)
    from retention.policies import policies_seed_defaults
    from tests.torture.engine import torture, world_seed

    policies_seed_defaults()
    world = world_seed(pairs=6, singles=3)
    connections.close_all()  # each worker opens its own session
    started = time.monotonic()
    report = torture(processes=args.processes, seconds=args.seconds, seed=args.seed, world=world)
    print(report.table())
    print(f"wall time {time.monotonic() - started:.0f} s")
    for failure in report.failures:
        print(f"\n{failure['operation']} {failure['outcome']}: {failure['error']}")
        print(failure["traceback"])
    for violation in report.violations:
        print("violation:", violation)
    for error in report.worker_errors:
        print("worker failed:", error)
    bad = report.total("deadlock") + report.total("error") + len(report.violations)
    return 1 if bad or report.worker_errors or not report.chain_ok else 0


if __name__ == "__main__":
    sys.exit(main())
