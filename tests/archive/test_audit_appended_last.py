"""`audited` transactions append their events last: the chain head is held only to append."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from archive.audit import audit_record, audit_verify, audited
from archive.models import AuditEvent, Collection


@pytest.mark.django_db
def test_events_are_appended_in_order_when_the_block_ends(user):
    with audited():
        first = audit_record(actor=user, verb="test.first", object_type="t", object_id=1)
        second = audit_record(actor=user, verb="test.second", object_type="t", object_id=2)
        assert first.hash == "" and not AuditEvent.objects.filter(verb__startswith="test.")
    assert list(AuditEvent.objects.filter(verb__startswith="test.").values_list("verb", flat=True))
    assert [first.sequence + 1, first.hash] == [second.sequence, second.previous_hash]
    assert audit_verify().ok


@pytest.mark.django_db
def test_events_of_a_rolled_back_savepoint_are_dropped(user):
    with audited():
        audit_record(actor=user, verb="test.kept", object_type="t", object_id=1)
        try:
            with transaction.atomic():
                audit_record(actor=user, verb="test.dropped", object_type="t", object_id=2)
                Collection.objects.create(name="dup")
                Collection.objects.create(name="dup")
        except IntegrityError:
            pass
        with audited():  # nested: a savepoint, appended by the outer block
            audit_record(actor=user, verb="test.nested", object_type="t", object_id=3)
        assert not AuditEvent.objects.filter(verb="test.nested").exists()
    verbs = set(AuditEvent.objects.filter(verb__startswith="test.").values_list("verb", flat=True))
    assert verbs == {"test.kept", "test.nested"}
    assert audit_verify().ok


@pytest.mark.django_db
def test_an_exception_drops_every_event_of_the_block(user):
    with pytest.raises(RuntimeError), audited():
        audit_record(actor=user, verb="test.lost", object_type="t", object_id=1)
        raise RuntimeError("boom")
    assert not AuditEvent.objects.filter(verb="test.lost").exists()
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_chain_head_is_free_until_the_block_appends(user):
    """Another writer can take the head while an audited block is still working."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are observable on PostgreSQL only")
    with audited():
        audit_record(actor=user, verb="test.setup", object_type="t", object_id=0)
    seen = {}

    def other_writer():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT last_sequence FROM archive_auditchainhead WHERE id = 1 "
                    "FOR UPDATE NOWAIT"
                )
                seen["locked"] = cursor.fetchone() is not None
        except Exception as exc:  # noqa: BLE001 - a lock error is the finding
            seen["error"] = exc
        finally:
            connections.close_all()

    with audited():
        audit_record(actor=user, verb="test.work", object_type="t", object_id=1)
        Collection.objects.create(name="work in progress")
        probe = threading.Thread(target=other_writer)
        probe.start()
        probe.join(timeout=10)
    assert seen == {"locked": True}
    assert audit_verify().ok


@pytest.mark.django_db
def test_after_audited_work_runs_once_the_block_ended_and_never_after_a_rollback(user):
    from archive.audit import after_audited

    ran = []
    with audited():
        after_audited(lambda: ran.append(("kept", AuditEvent.objects.filter(verb="t.k").count())))
        audit_record(actor=user, verb="t.k", object_type="t", object_id=1)
        try:
            with audited():
                after_audited(lambda: ran.append(("savepoint rolled back", 0)))
                raise RuntimeError("inner")
        except RuntimeError:
            pass
        assert ran == []
    assert ran == [("kept", 1)]  # after the block: its events are on the chain already
    with pytest.raises(RuntimeError), audited():
        after_audited(lambda: ran.append(("outer rolled back", 0)))
        raise RuntimeError("outer")
    assert ran == [("kept", 1)]
