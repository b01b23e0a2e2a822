"""A history rewritten end to end in the database passes the hash chain, not the checkpoint.

Someone with database rights edits an event and recomputes every later hash and the chain
head: the chain verifies again, but the latest checkpoint's signed Merkle root does not.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from archive import verifier
from archive.audit import audit_record, audit_verify, event_rows
from archive.checkpoints import checkpoint_seal
from archive.models import AuditEvent
from tests.archive.db_protection import append_only_lifted

pytestmark = pytest.mark.django_db


def record(n):
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, verb="test.event", object_type="thing", object_id=i)


def rewrite(sequence: int, reason: str) -> None:
    rows = list(event_rows(AuditEvent.objects.order_by("sequence")))
    previous = rows[sequence - 2]["hash"] if sequence > 1 else ""
    with append_only_lifted(), connection.cursor() as cursor:
        for row in rows[sequence - 1 :]:
            if row["sequence"] == sequence:
                row["reason"] = reason
            row["previous_hash"] = previous
            row["hash"] = previous = verifier.event_hash(row)
            cursor.execute(
                "UPDATE archive_auditevent SET reason = %s, previous_hash = %s, hash = %s "
                "WHERE sequence = %s",
                [row["reason"], row["previous_hash"], row["hash"], row["sequence"]],
            )
        cursor.execute("UPDATE archive_auditchainhead SET last_hash = %s", [previous])


def test_a_rewritten_history_passes_the_chain_but_not_the_checkpoint():
    record(4)
    checkpoint_seal()
    record(2)
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "audit trail verifies" in out.getvalue()

    rewrite(2, "nothing to see")

    assert audit_verify().ok  # the chain alone is fooled
    with pytest.raises(CommandError, match=r"do not give checkpoint #4's signed root"):
        call_command("verify_audit", stdout=io.StringIO())
