"""The hash-chained audit trail: appends in the change's transaction, detects tampering."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from archive.audit import audit_record, audit_verify
from archive.errors import ArchiveError
from archive.models import AuditChainHead, AuditEvent
from tests.archive.db_protection import append_only_lifted
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


def record(n: int, actor=None):
    for i in range(n):
        with transaction.atomic():
            audit_record(
                actor=actor,
                verb="test.event",
                object_type="thing",
                object_id=i,
                before={"n": i},
                after={"n": i + 1, "note": "é ✓", "ratio": 0.1},
            )


def raw(sql: str, params=()):
    # Behind the application's back, as a database superuser would: lift the append-only
    # triggers (which refuse these writes, see test_append_only_triggers.py), then plain SQL.
    with append_only_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify_output() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


class TestAuditRecord:
    def test_events_form_a_gap_free_chain(self, user):
        record(3, actor=user)

        events = list(AuditEvent.objects.all())
        assert [e.sequence for e in events] == [1, 2, 3]
        assert events[0].previous_hash == ""
        assert events[1].previous_hash == events[0].hash
        assert events[2].actor_name == "archivist"
        head = AuditChainHead.objects.get()
        assert (head.last_sequence, head.last_hash) == (3, events[2].hash)

    @pytest.mark.django_db(transaction=True)
    def test_outside_a_transaction_is_refused(self):
        with pytest.raises(ArchiveError, match="in the transaction of the change"):
            audit_record(actor=None, verb="test.event", object_type="x", object_id=1)

    def test_rolled_back_change_leaves_no_event(self):
        with pytest.raises(RuntimeError), transaction.atomic():
            audit_record(actor=None, verb="test.event", object_type="x", object_id=1)
            raise RuntimeError("the change failed")

        assert AuditEvent.objects.count() == 0
        assert audit_verify().ok is True

    def test_the_application_cannot_edit_or_delete_events(self):
        record(1)
        event = AuditEvent.objects.get()
        event.reason = "rewritten"

        with pytest.raises(ArchiveError, match="append-only"):
            event.save()
        with pytest.raises(ArchiveError, match="append-only"):
            event.delete()
        with pytest.raises(ArchiveError, match="append-only"):
            AuditEvent.objects.all().delete()
        with pytest.raises(ArchiveError, match="append-only"):
            AuditEvent.objects.update(reason="x")


class TestVerifyAudit:
    def test_untouched_log_verifies(self, collection):
        ingest_picture(collection=collection)
        record(2)

        output = verify_output()

        count = AuditEvent.objects.count()
        assert f"audit trail verifies: {count} events" in output

    def test_an_edited_event_is_named(self):
        record(5)
        raw("UPDATE archive_auditevent SET reason = 'nothing happened' WHERE sequence = 3")

        with pytest.raises(CommandError, match="event #3 was altered after it was written"):
            verify_output()

    def test_an_edited_json_payload_is_named(self):
        record(4)
        raw("UPDATE archive_auditevent SET actor_name = 'someone else' WHERE sequence = 2")

        assert audit_verify().problem.sequence == 2

    def test_a_deleted_event_is_detected(self):
        record(5)
        raw("DELETE FROM archive_auditevent WHERE sequence = 2")

        report = audit_verify()

        assert report.ok is False
        assert report.problem.sequence == 3
        assert "where #2 was expected" in report.problem.message

    def test_reordered_events_are_detected(self):
        record(4)
        raw("UPDATE archive_auditevent SET sequence = 100 WHERE sequence = 2")
        raw("UPDATE archive_auditevent SET sequence = 2 WHERE sequence = 3")
        raw("UPDATE archive_auditevent SET sequence = 3 WHERE sequence = 100")

        report = audit_verify()

        assert report.problem.sequence == 2

    def test_events_cut_from_the_end_are_detected(self):
        record(4)
        raw("DELETE FROM archive_auditevent WHERE sequence = 4")

        report = audit_verify()

        assert report.problem.sequence is None
        assert "the chain head records event #4 but the log ends at #3" in report.problem.message

    def test_a_rehashed_forgery_still_breaks_the_link(self):
        """Recomputing one event's own hash does not help: the next event links to the old one."""
        from archive.audit import event_hash

        record(3)
        e = AuditEvent.objects.values().get(sequence=2)
        forged = event_hash(
            sequence=2,
            created_at=e["created_at"].isoformat(timespec="microseconds"),
            actor_name="forger",
            verb=e["verb"],
            object_type=e["object_type"],
            object_id=e["object_id"],
            before=e["before"],
            after=e["after"],
            reason="",
            previous_hash=e["previous_hash"],
        )
        raw(
            "UPDATE archive_auditevent SET actor_name = 'forger', hash = %s WHERE sequence = 2",
            [forged],
        )

        report = audit_verify()

        assert report.problem.sequence == 3
        assert "does not link" in report.problem.message


class TestAppendUnderTheHead:
    """Every writer waits for the chain head; what it does while holding it is the cost of
    the audit trail under concurrency (rehearsal figure 4: decisions without their events
    ran 295/s against 214/s with them, one worker). On PostgreSQL the events go in and the
    head moves in one statement after the lock; elsewhere the ORM's three."""

    def _appended(self, events: int) -> tuple[list[str], list[AuditEvent]]:
        from django.test.utils import CaptureQueriesContext

        from archive.audit import audited

        made = []
        with CaptureQueriesContext(connection) as seen, audited():
            for i in range(events):
                made.append(
                    audit_record(
                        actor=None,
                        verb="test.batch",
                        object_type="thing",
                        object_id=i,
                        after={"n": i, "values": [1.5, None, "ß"], "nested": {"z": True}},
                    )
                )
        sql = [q["sql"] for q in seen.captured_queries]
        # The head's read (FOR NO KEY UPDATE on PostgreSQL; SQLite locks the whole database).
        (lock,) = [
            i for i, q in enumerate(sql) if q.startswith("SELECT") and "archive_auditchainhead" in q
        ]
        return sql[lock + 1 :], made

    @pytest.mark.parametrize("events", [1, 3, 40])
    def test_the_events_and_the_head_move_together(self, events):
        record(2)
        after_lock, made = self._appended(events)
        statements = [q for q in after_lock if not q.startswith(("SAVEPOINT", "RELEASE"))]
        if connection.vendor == "postgresql":
            assert len(statements) == 1, statements
        else:
            assert len(statements) <= 3, statements
        # The objects handed back are the stored rows: ids, sequences, hashes as stored.
        stored = {e.pk: e for e in AuditEvent.objects.filter(verb="test.batch")}
        assert sorted(stored) == sorted(e.pk for e in made)
        for event in made:
            assert stored[event.pk].sequence == event.sequence
            assert stored[event.pk].hash == event.hash
            assert stored[event.pk].after == event.after
        assert [e.sequence for e in made] == list(range(3, 3 + events))
        head = AuditChainHead.objects.get(pk=1)
        assert (head.last_sequence, head.last_hash) == (2 + events, made[-1].hash)
        assert audit_verify().ok
        with pytest.raises(ArchiveError):  # handed back as stored: never saved again
            made[0].save()

    def test_more_events_than_one_statement_takes(self):
        # A group consolidation can record thousands of events in one transaction.
        _after_lock, made = self._appended(7000)
        assert AuditEvent.objects.filter(verb="test.batch").count() == 7000
        assert made[-1].sequence == 7000
        report = audit_verify()
        assert report.ok and report.checked == 7000
