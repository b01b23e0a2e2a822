"""Seals racing each other and the writers of the log (real PostgreSQL).

Three sealers and two writers start together on a barrier; every checkpoint that results
is signed, extends the one before it (consistency proof) and matches the stored log.
"""

import threading

import pytest
from django.db import connection, connections, transaction

from archive import verifier
from archive.audit import audit_record
from archive.checkpoints import checkpoint_seal, signing_key, tree_from_log
from archive.models import Checkpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("seals race on PostgreSQL; SQLite serialises writers")


def record(n):
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, verb="test.event", object_type="thing", object_id=i)


def test_concurrent_seals_give_one_consistent_signed_history():
    record(5)
    barrier, errors = threading.Barrier(5), []

    def job(work):
        def run():
            try:
                barrier.wait()
                work()
            except Exception as exc:  # noqa: BLE001 - reported to the main thread
                errors.append(exc)
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    def seal_often():
        for _ in range(4):
            checkpoint_seal()

    threads = [job(seal_often) for _ in range(3)] + [job(lambda: record(10)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = checkpoint_seal()

    assert errors == []
    checkpoints = list(Checkpoint.objects.order_by("size"))
    assert checkpoints[-1] == final and len(checkpoints) >= 2
    tree = tree_from_log(size=final.size)
    assert tree.root().hex() == final.root_hash
    key = [signing_key().public_raw]
    for older in checkpoints[:-1]:
        note = verifier.checkpoint_parse(older.note)
        assert verifier.checkpoint_signed_by(note, key)
        assert verifier.consistency_verify(
            first=older.size,
            second=final.size,
            first_root=note.root,
            second_root=tree.root(),
            path=tree.consistency(older.size),
        )
