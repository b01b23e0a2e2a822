"""The tamper-evident audit trail: append events to a hash chain and verify it.

Each event's hash covers its own fields and the previous event's hash, so editing,
deleting or reordering any event breaks the chain from that point on; the chain head
row records the last sequence and hash, so cutting events off the end is detected too.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from archive.errors import ArchiveError
from archive.models import AuditChainHead, AuditEvent

SYSTEM_ACTOR = "system"


def _canonical_json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))


def _normalise(value):
    """Round-trip through JSON so what is hashed is exactly what the database returns."""
    if value is None:
        return None
    return json.loads(_canonical_json(value))


def event_hash(
    *,
    sequence: int,
    created_at: str,
    actor_name: str,
    verb: str,
    object_type: str,
    object_id: str,
    before,
    after,
    reason: str,
    previous_hash: str,
) -> str:
    """Return the SHA-256 that seals one event, given its fields as stored."""
    payload = _canonical_json(
        {
            "sequence": sequence,
            "created_at": created_at,
            "actor": actor_name,
            "verb": verb,
            "object_type": object_type,
            "object_id": object_id,
            "before": before,
            "after": after,
            "reason": reason,
            "previous_hash": previous_hash,
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _timestamp(value) -> str:
    # Microsecond UTC ISO format survives every database backend unchanged.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


# The stored fields of an event, in the order exports write them; all but `hash` are hashed.
EVENT_FIELDS = (
    "sequence",
    "created_at",
    "actor_name",
    "verb",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
    "previous_hash",
    "hash",
)


def row_hash(row: dict) -> str:
    """Recompute the hash of one event given as a dict of its stored fields."""
    return event_hash(
        sequence=row["sequence"],
        created_at=row["created_at"],
        actor_name=row["actor_name"],
        verb=row["verb"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        before=row["before"],
        after=row["after"],
        reason=row["reason"],
        previous_hash=row["previous_hash"],
    )


def audit_record(
    *,
    actor,
    verb: str,
    obj=None,
    object_type: str = "",
    object_id: str | int = "",
    before=None,
    after=None,
    reason: str = "",
) -> AuditEvent:
    """Append one event to the chain; must run inside the transaction that made the change."""
    if not connection.in_atomic_block:
        raise ArchiveError("Audit events are written in the transaction of the change they record.")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    head, _ = AuditChainHead.objects.select_for_update(no_key=True).get_or_create(pk=1)
    fields = {
        "sequence": head.last_sequence + 1,
        "created_at": timezone.now(),
        "actor_name": actor.get_username() if actor is not None else SYSTEM_ACTOR,
        "verb": verb,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": _normalise(before),
        "after": _normalise(after),
        "reason": reason,
        "previous_hash": head.last_hash,
    }
    digest = event_hash(**{**fields, "created_at": _timestamp(fields["created_at"])})
    event = AuditEvent.objects.create(actor=actor, hash=digest, **fields)
    head.last_sequence = event.sequence
    head.last_hash = digest
    head.save(update_fields=["last_sequence", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainProblem:
    sequence: int | None
    message: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def chain_verify(
    events: Iterable[dict], *, expected_head: tuple[int, str] | None = None
) -> ChainReport:
    """Recompute the chain over events (stored fields, in order); report the first fault."""
    expected_sequence, previous_hash, checked = 1, "", 0
    for row in events:
        sequence = row["sequence"]
        if sequence != expected_sequence:
            problem = ChainProblem(
                sequence,
                f"event #{sequence} found where #{expected_sequence} was expected "
                "(events missing or reordered)",
            )
            return ChainReport(checked, previous_hash, problem)
        if row["previous_hash"] != previous_hash:
            problem = ChainProblem(
                sequence, f"event #{sequence} does not link to the event before it"
            )
            return ChainReport(checked, previous_hash, problem)
        if row_hash(row) != row["hash"]:
            problem = ChainProblem(sequence, f"event #{sequence} was altered after it was written")
            return ChainReport(checked, previous_hash, problem)
        previous_hash, expected_sequence, checked = row["hash"], sequence + 1, checked + 1
    if expected_head is not None and expected_head != (checked, previous_hash):
        problem = ChainProblem(
            None,
            f"the chain head records event #{expected_head[0]} but the log ends at "
            f"#{checked} (events removed from the end)",
        )
        return ChainReport(checked, previous_hash, problem)
    return ChainReport(checked, previous_hash, None)


def event_rows(events, *, chunk_size: int = 2000) -> Iterator[dict]:
    """Yield events of a queryset as dicts of their stored fields, timestamps as hashed."""
    # Read in chunks, so memory stays flat at millions of events.
    for row in events.values(*EVENT_FIELDS).iterator(chunk_size=chunk_size):
        yield {**row, "created_at": _timestamp(row["created_at"])}


def _stored_events(chunk_size: int = 2000):
    return event_rows(AuditEvent.objects.order_by("sequence"), chunk_size=chunk_size)


def audit_verify() -> ChainReport:
    """Verify the stored audit trail end to end against the chain head."""
    head = AuditChainHead.objects.filter(pk=1).first()
    expected = (head.last_sequence, head.last_hash) if head else (0, "")
    return chain_verify(_stored_events(), expected_head=expected)
