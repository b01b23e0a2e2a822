"""Concurrency torture on PostgreSQL: no deadlock reaches a user, nothing breaks.

Three processes run random mixed operations (tests/torture/engine.py) on a handful of
shared assets for a bounded time; `make torture` runs more for longer (bench/torture.py).
"""

import os

import pytest
from django.db import connection

from tests.torture.engine import torture

PROCESSES = int(os.environ.get("KEEPSAKE_TORTURE_PROCESSES", "3"))
SECONDS = float(os.environ.get("KEEPSAKE_TORTURE_SECONDS", "12"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_mixed_operations_never_deadlock_or_break_an_invariant():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL; SQLite serialises every writer")
    from retention.policies import policies_seed_defaults

    policies_seed_defaults()

    report = torture(processes=PROCESSES, seconds=SECONDS, seed=11)

    print(report.table())
    assert report.worker_errors == []
    assert report.total("ok") > 0, report.table()
    # Each failure names the operation, the exception and its traceback.
    assert [f for f in report.failures if f["outcome"] == "deadlock"] == [], report.table()
    assert [f for f in report.failures if f["outcome"] == "error"] == [], report.table()
    assert report.violations == [], report.table()
    assert report.chain_ok
