"""The tamper-evident audit trail: append events to a hash chain and verify it.

Each event's hash covers its own fields and the previous event's hash, so editing,
deleting or reordering any event breaks the chain from that point on; the chain head
row records the last sequence and hash, so cutting events off the end is detected too.
"""

import functools
import hashlib
import json
import math
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, connections, transaction
from django.db.models import CharField, Func, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from archive.actors import SYSTEM_NAME, actor_name, actor_user
from archive.errors import ArchiveError
from archive.models import AuditChainHead, AuditEvent

SYSTEM_ACTOR = SYSTEM_NAME

# PostgreSQL's deadlock_detected and serialization_failure: safe to run the block again.
CONFLICT_SQLSTATES = {"40P01", "40001"}
CONFLICT_ATTEMPTS = 5

# Events of the audited block being run, appended to the chain when it ends (see audited),
# and the work to run once it has ended (see after_audited).
_pending: ContextVar[list | None] = ContextVar("keepsake_audit_pending", default=None)
_after: ContextVar[list | None] = ContextVar("keepsake_audit_after", default=None)


def compact_encoder(*, ensure_ascii: bool = True):
    """`json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"),
    ensure_ascii=...)` as one reusable function.

    json.dumps builds its C encoder anew on every call, which is most of the cost of hashing
    or exporting one event; this builds it once. Where the interpreter has no C encoder, or
    the one it has writes anything else for a probe value, json.dumps itself is returned.
    """
    slow = functools.partial(
        json.dumps,
        cls=DjangoJSONEncoder,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=ensure_ascii,
    )
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(
        json.encoder, "c_encode_basestring_ascii" if ensure_ascii else "c_encode_basestring", None
    )
    if make is None or quote is None:
        return slow
    try:
        encode = make(None, DjangoJSONEncoder().default, quote, None, ":", ",", True, False, True)
    except TypeError:  # another signature
        return slow

    def fast(value) -> str:
        return "".join(encode(value, 0))

    probe = {
        "z": [1, -2.5, 1e16, None, True, {"b": 'é\u2028\n"\x7f', "a": []}],
        "a": "Ωmega 🎞",
        "n": 2**70,
        "t": timezone.now(),
    }
    try:
        return fast if fast(probe) == slow(probe) else slow
    except (TypeError, ValueError):
        return slow


_canonical_json = compact_encoder(ensure_ascii=True)


def _normalise(value):
    """What is hashed is exactly what either database returns.

    A round trip through JSON first (dates become text, tuples lists), then the values
    PostgreSQL's jsonb would store otherwise than it was given: a float it writes back in
    plain digits (1e+16 comes back as the integer 10000000000000000), minus zero (comes
    back as 0.0), NaN and infinities (refused, so stored as text) and NUL characters
    (refused in jsonb text, so replaced by U+FFFD). Without this an honest event could
    verify as altered after a round trip through the database.
    """
    if value is None:
        return None
    return _storable(json.loads(_canonical_json(value)))


def _storable(value):
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        if value == 0:
            return 0.0
        text = repr(value)
        if "e" in text and abs(value) >= 1:
            return int(Decimal(text))
    return value


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


class _Alive:
    """A no-op on-commit callback marking one buffered event.

    Django drops the on-commit callbacks of a savepoint that rolls back; an event whose
    marker is gone was written inside such a savepoint and must not reach the chain.
    """

    __slots__ = ()

    def __call__(self):
        return None


def _event_build(*, actor, verb, object_type, object_id, before, after, reason) -> AuditEvent:
    return AuditEvent(
        actor=actor_user(actor),
        actor_name=actor_name(actor),
        verb=verb,
        object_type=object_type,
        object_id=str(object_id),
        before=_normalise(before),
        after=_normalise(after),
        reason=reason,
    )


def _chain_append(events: list[AuditEvent]) -> None:
    """Lock the chain head, seal events onto the chain in order, move the head."""
    head, _ = AuditChainHead.objects.select_for_update(no_key=True).get_or_create(pk=1)
    sequence, previous = head.last_sequence, head.last_hash
    for event in events:
        sequence += 1
        event.sequence, event.created_at, event.previous_hash = sequence, timezone.now(), previous
        event.hash = event_hash(
            sequence=event.sequence,
            created_at=_timestamp(event.created_at),
            actor_name=event.actor_name,
            verb=event.verb,
            object_type=event.object_type,
            object_id=event.object_id,
            before=event.before,
            after=event.after,
            reason=event.reason,
            previous_hash=previous,
        )
        previous = event.hash
    if connection.vendor == "postgresql" and len(events) <= _APPEND_MAX:
        _append_moving_head(events, sequence, previous)
        return
    AuditEvent.objects.bulk_create(events)
    head.last_sequence, head.last_hash = sequence, previous
    head.save(update_fields=["last_sequence", "last_hash"])


_APPEND_SQL = (
    "WITH appended AS (INSERT INTO {events} ({columns}) VALUES {rows} "
    'RETURNING {id}, "sequence"), '
    'moved AS (UPDATE {head} SET "last_sequence" = %s, "last_hash" = %s WHERE "id" = 1) '
    'SELECT {id}, "sequence" FROM appended'
)
# Events one statement appends on PostgreSQL (12 parameters each, under the protocol's
# 65,535); a larger batch (a consolidation of a very large group) takes the ORM's way.
_APPEND_MAX = 2000


def _append_moving_head(events: list[AuditEvent], sequence: int, last_hash: str) -> None:
    """Insert sealed events and move the head in one statement (PostgreSQL).

    Every writer waits for the head, so each round trip made while holding it is paid by
    all of them; this makes it one, after the lock. The values are prepared by the model's
    own fields, as bulk_create would, and the objects end as bulk_create leaves them.
    """
    meta = AuditEvent._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [
        field.get_db_prep_save(field.pre_save(event, add=True), connection)
        for event in events
        for field in fields
    ]
    # Table and column names come from the models; every value is a parameter.
    sql = _APPEND_SQL.format(
        events=quote(meta.db_table),
        columns=columns,
        rows=", ".join([row] * len(events)),
        id=quote(meta.pk.column),
        head=quote(AuditChainHead._meta.db_table),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, sequence, last_hash])
        ids = dict((seq, pk) for pk, seq in cursor.fetchall())
    for event in events:
        event.pk = ids[event.sequence]
        event._state.adding, event._state.db = False, connection.alias


def _live(items: list) -> list:
    # What was registered inside a savepoint that rolled back lost its on-commit marker.
    live = {id(func) for _sids, func, _robust in connection.run_on_commit}
    return [item for marker, item in items if id(marker) in live]


def _marked(items: list, item) -> None:
    marker = _Alive()
    transaction.on_commit(marker)
    items.append((marker, item))


@contextmanager
def _audited_block():
    if _pending.get() is not None:
        # Nested: a savepoint inside the outer audited block, which appends the events.
        with transaction.atomic():
            yield
        return
    tokens = _pending.set([]), _after.set([])
    try:
        with transaction.atomic():
            yield
            events, after = _live(_pending.get()), _live(_after.get())
            if events:
                _chain_append(events)
    finally:
        _pending.reset(tokens[0])
        _after.reset(tokens[1])
    for work in after:
        work()


def after_audited(work) -> None:
    """Run work() once the outermost audited block has ended (committed, unless a caller's
    own transaction surrounds it); dropped if the block or its savepoint rolls back.

    Byte work (copies to and from storage) goes here, so it never runs while the
    operation's locks are held, and it runs right after the operation, in the same call.
    """
    after = _after.get()
    if after is None:
        raise ArchiveError("after_audited is called inside an audited block.")
    _marked(after, work)


def audited(fn=None):
    """A transaction whose audit events are appended to the chain last, as it ends.

    Use it like `transaction.atomic` (decorator or `with audited():`). The chain head is
    the one row every writer locks; taking it only at the very end, after every asset and
    record lock of the operation, keeps the lock order global (assets, then the rest,
    then the head) and holds the head only for the appends, never across file or network
    I/O. Events written inside a savepoint that rolled back are dropped with it.
    """
    if fn is None:
        return _audited_block()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            with _audited_block():
                return fn(*args, **kwargs)
        # The outermost transaction: a deadlock or serialisation failure the database
        # chose to break is retried here, so it never reaches a user as an error.
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                with _audited_block():
                    return fn(*args, **kwargs)
            except OperationalError as exc:
                state = getattr(exc.__cause__, "sqlstate", None)
                if state not in CONFLICT_SQLSTATES or attempt == CONFLICT_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.05 * attempt))  # noqa: S311 - jitter only
        raise AssertionError("unreachable")

    return wrapper


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
    """Record one event in the transaction of the change it records.

    Inside an `audited` block the event is appended when the block ends (its `hash` is
    set then); elsewhere it is appended at once.
    """
    if not connection.in_atomic_block:
        raise ArchiveError("Audit events are written in the transaction of the change they record.")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    event = _event_build(
        actor=actor,
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        reason=reason,
    )
    pending = _pending.get()
    if pending is None:
        _chain_append([event])
        return event
    _marked(pending, event)
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


class _HashedStamp(Func):
    """An event's time written as the chain hashes it (see _timestamp), by PostgreSQL: the
    export and verification of millions of events skip reading and re-writing each time."""

    output_field = CharField()
    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    )


def event_rows(events, *, chunk_size: int = 5000) -> Iterator[dict]:
    """Yield events of a queryset as dicts of their stored fields, timestamps as hashed."""
    # Read in chunks, so memory stays flat at millions of events.
    if connections[events.db].vendor == "postgresql":
        # The time as text and the JSON fields as text, parsed here once.
        texts = {"created_at": _HashedStamp("created_at")}
        texts.update({name: Cast(name, TextField()) for name in ("before", "after")})
        fields = [f"{name}_text" if name in texts else name for name in EVENT_FIELDS]
        stamped = events.annotate(**{f"{name}_text": value for name, value in texts.items()})
        loads = json.loads
        for values in stamped.values_list(*fields).iterator(chunk_size=chunk_size):
            row = dict(zip(EVENT_FIELDS, values, strict=True))
            before, after = row["before"], row["after"]
            row["before"] = None if before is None else loads(before)
            row["after"] = None if after is None else loads(after)
            yield row
        return
    for row in events.values(*EVENT_FIELDS).iterator(chunk_size=chunk_size):
        yield {**row, "created_at": _timestamp(row["created_at"])}


def _stored_events(chunk_size: int = 2000):
    return event_rows(AuditEvent.objects.order_by("sequence"), chunk_size=chunk_size)


def audit_verify() -> ChainReport:
    """Verify the stored audit trail end to end against the chain head."""
    head = AuditChainHead.objects.filter(pk=1).first()
    expected = (head.last_sequence, head.last_hash) if head else (0, "")
    return chain_verify(_stored_events(), expected_head=expected)
