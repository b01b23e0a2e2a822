"""Quarantine and restore: the reversible step before any byte may be destroyed.

Both are two-phase, like storage moves (see retention.moves), so no bytes are copied
inside a transaction that holds locks:

1. open: a short audited transaction locks the asset, asks the guard (a quarantine) and
   records a `PendingMove` of kind quarantine or restore, with an `asset.quarantine_started`
   or `asset.restore_started` event carrying the reason (what a resumer needs).
2. the copy and its verification, outside any transaction of this module.
3. switch: a short audited transaction performs the whole transition: state, pointer,
   the quarantine record opened (quarantine) or closed (restore), the audit event.
4. the source is deleted after commit.

Between the phases the asset shows its state before the transition: a quarantine under
way leaves it active at its old location (a hold placed meanwhile wins at the switch,
and the copy is discarded), a restore under way leaves it quarantined with its record
open (a purge is refused meanwhile). `moves_resume` finishes either completely. When
the bytes need not move (already in the quarantine tier, or a restore of a frozen asset,
whose bytes stay where they are) the transition happens at once, in the first
transaction. Called inside a caller's transaction, every phase runs in it.

Crash points: `quarantine.opened` / `restore.opened`, then those of retention.moves.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from archive.actors import SYSTEM, actor_user
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.faults import crash_point
from archive.holds import hold_refusals_audited
from archive.lifecycle import Transition, asset_lock, asset_transition, guard_check
from archive.models import Asset, AuditEvent
from archive.selectors import asset_is_frozen
from retention.guard import asset_family_lock
from retention.models import PendingMove, QuarantineRecord
from retention.moves import move_open, move_run
from retention.policies import quarantine_window_days

logger = logging.getLogger("keepsake.retention")

HOME_TIERS = (Asset.Tier.HOT, Asset.Tier.COLD)


def _record_open(asset: Asset) -> QuarantineRecord | None:
    return (
        QuarantineRecord.objects.select_for_update(no_key=True)
        .filter(asset=asset, restored_at__isnull=True, purged_at__isnull=True)
        .first()
    )


def _pointer(move: PendingMove | None) -> dict:
    if move is None:
        return {}
    return {"storage_alias": move.to_alias, "storage_key": move.to_key}


def _where(asset: Asset, move: PendingMove | None) -> str:
    # Where the asset's pointer names after the transition, as audit events write it.
    if move is None:
        return f"{asset.storage_alias}:{asset.storage_key}"
    return f"{move.to_alias}:{move.to_key}"


def _intent_recorded(move: PendingMove) -> dict | None:
    # The opening event of this move: its reason (and window) survive a crash there.
    events = AuditEvent.objects.filter(
        verb=f"asset.{move.kind}_started",
        object_type=Asset._meta.label_lower,
        object_id=str(move.asset_id),
    ).order_by("-sequence")
    for event in events[:20]:
        if (event.after or {}).get("move") == move.pk:
            return {"reason": event.reason, **event.after}
    return None


def quarantine_intent(move: PendingMove) -> dict:
    """What the quarantine a resumer finishes was asked for: reason and window."""
    recorded = _intent_recorded(move)
    if recorded is None:
        return {"reason": f"quarantine resumed (move {move.pk})", "window_days": None}
    return recorded


def restore_intent(move: PendingMove) -> dict:
    """What the restore a resumer finishes was asked for: its reason."""
    return _intent_recorded(move) or {"reason": f"restore resumed (move {move.pk})"}


def quarantine_switch(
    *, asset: Asset, actor, intent: dict, move: PendingMove | None = None
) -> QuarantineRecord:
    """The quarantine transition of a locked asset: state, pointer, record, audit."""
    window = intent.get("window_days")
    days = quarantine_window_days(asset=asset) if window is None else window
    now = timezone.now()
    record = QuarantineRecord(
        asset=asset,
        reason=intent["reason"],
        quarantined_at=now,
        quarantined_by=actor_user(actor),
        restore_deadline=now + timedelta(days=days),
        previous_state=asset.state,
        previous_alias=asset.storage_alias,
    )
    # The guard runs inside the transition, before anything is written.
    asset_transition(
        asset=asset,
        transition=Transition.QUARANTINE,
        actor=actor,
        reason=record.reason,
        changes=_pointer(move),
        before={"storage": f"{asset.storage_alias}:{asset.storage_key}"},
        after={"restore_deadline": record.restore_deadline, "storage": _where(asset, move)},
    )
    record.full_clean()
    record.save()
    return record


@audited
def _quarantine_open(*, asset: Asset, actor, intent: dict) -> PendingMove | QuarantineRecord:
    asset = asset_family_lock(asset)
    guard_check(asset=asset, action="quarantine", actor=actor)
    if asset.storage_alias == Asset.Tier.QUARANTINE:
        # The bytes are there already (a held asset restored in place): nothing to copy.
        return quarantine_switch(asset=asset, actor=actor, intent=intent)
    move = move_open(
        asset=asset, kind=PendingMove.Kind.QUARANTINE, to_alias=Asset.Tier.QUARANTINE, actor=actor
    )
    audit_record(
        actor=actor,
        verb="asset.quarantine_started",
        obj=asset,
        reason=intent["reason"],
        after={"move": move.pk, "window_days": intent["window_days"]},
    )
    return move


@hold_refusals_audited()
def asset_quarantine(
    *, asset: Asset, reason: str, actor, window_days: int | None = None
) -> QuarantineRecord:
    """Take an asset out of use and move its bytes to the quarantine tier until the deadline."""
    intent = {"reason": reason, "window_days": window_days}
    opened = _quarantine_open(asset=asset, actor=actor, intent=intent)
    if isinstance(opened, QuarantineRecord):
        return opened
    crash_point("quarantine.opened")
    move_run(opened, actor=actor, intent=intent)
    # The record this quarantine opened (a concurrent restore may have closed it already).
    return (
        QuarantineRecord.objects.select_related("asset")
        .filter(asset_id=asset.pk)
        .order_by("-quarantined_at", "-pk")
        .first()
    )


def restore_switch(*, asset: Asset, actor, intent: dict, move: PendingMove | None = None) -> bool:
    """The restore transition of a locked asset; False when a hold kept the bytes in place."""
    record = _record_open(asset)
    if asset.state != Asset.State.QUARANTINED or record is None:
        raise ArchiveError(f"{asset} is not in quarantine.", code="conflict")
    if move is not None and asset_is_frozen(asset=asset):
        # A held asset is never moved: it is back in use, its bytes stay where they are
        # until the hold is released (enforcement then moves them home).
        move = None
    record.restored_at, record.restored_by = timezone.now(), actor_user(actor)
    record.full_clean()
    record.save(update_fields=["restored_at", "restored_by"])
    asset_transition(
        asset=asset,
        transition=Transition.RESTORE,
        actor=actor,
        reason=intent["reason"],
        changes=_pointer(move),
        before={
            "replaced_by": asset.replaced_by_id,
            "storage": f"{asset.storage_alias}:{asset.storage_key}",
        },
        after={"storage": _where(asset, move), "sha256": asset.sha256, "quarantine": record.pk},
    )
    return move is not None


@audited
def _restore_open(*, asset: Asset, actor, intent: dict) -> PendingMove | None:
    asset = asset_lock(asset)
    record = _record_open(asset)
    if asset.state != Asset.State.QUARANTINED or record is None:
        raise ArchiveError(f"{asset} is not in quarantine.", code="conflict")
    if asset.storage_alias != Asset.Tier.QUARANTINE or asset_is_frozen(asset=asset):
        restore_switch(asset=asset, actor=actor, intent=intent)
        return None
    home = record.previous_alias if record.previous_alias in HOME_TIERS else Asset.Tier.HOT
    move = move_open(asset=asset, kind=PendingMove.Kind.RESTORE, to_alias=home, actor=actor)
    audit_record(
        actor=actor,
        verb="asset.restore_started",
        obj=asset,
        reason=intent["reason"],
        after={"move": move.pk, "quarantine": record.pk},
    )
    return move


def asset_restore(*, asset: Asset, actor, reason: str = "") -> Asset:
    """Bring a quarantined asset back as it was: same state, same tier, same SHA-256."""
    intent = {"reason": reason}
    move = _restore_open(asset=asset, actor=actor, intent=intent)
    if move is not None:
        crash_point("restore.opened")
        move_run(move, actor=actor, intent=intent)
    return Asset.objects.get(pk=asset.pk)


def quarantine_record_close(*, asset: Asset, actor, reason: str) -> None:
    """Close the open quarantine record of an asset restored by another path.

    The `archive.hooks.asset_restored` implementation: a restore through these services
    closed it already; one the archive makes itself (bytes ingested again) did not.
    """
    record = _record_open(asset)
    if record is None:
        return
    record.restored_at, record.restored_by = timezone.now(), actor_user(actor)
    record.full_clean()
    record.save(update_fields=["restored_at", "restored_by"])


@dataclass(frozen=True)
class OpenedMove:
    """Byte work a caller's transaction decided on, to run once it committed.

    A recorded move (finished by `move_run`, or by `moves_resume` after a crash): the copy
    of a quarantine, or the way home of bytes a restore in place left in quarantine.
    """

    asset_id: int
    move: PendingMove
    intent: dict | None = None


def quarantine_begin(
    *, asset: Asset, reason: str, actor, window_days: int | None = None
) -> OpenedMove | None:
    """The first phase of a quarantine, inside the caller's transaction (no byte work).

    Returns the move to finish with `moves_finish` once the caller committed, or None when
    the quarantine happened at once (nothing to copy). A crash in between leaves a
    recorded move that `moves_resume` finishes.
    """
    intent = {"reason": reason, "window_days": window_days}
    opened = _quarantine_open(asset=asset, actor=actor, intent=intent)
    return OpenedMove(asset.pk, opened, intent) if isinstance(opened, PendingMove) else None


@audited
def restore_in_place(*, asset: Asset, reason: str, actor) -> OpenedMove | None:
    """Restore inside the caller's transaction, the bytes left in the quarantine tier.

    The asset is active again (its replacement ended, its record closed) at once, which
    is what an undo needs to put records back exactly; the bytes go home afterwards
    (`moves_finish`, or enforcement's sweep of active assets in the quarantine tier).
    """
    asset = asset_lock(asset)
    record = _record_open(asset)
    if record is None:
        raise ArchiveError(f"{asset} is not in quarantine.", code="conflict")
    home = record.previous_alias if record.previous_alias in HOME_TIERS else Asset.Tier.HOT
    restore_switch(asset=asset, actor=actor, intent={"reason": reason})
    if asset.storage_alias != Asset.Tier.QUARANTINE or asset_is_frozen(asset=asset):
        return None
    # Recorded in this transaction, so a crash after it commits is finished by the resumer.
    move = move_open(asset=asset, kind=PendingMove.Kind.MOVE, to_alias=home, actor=SYSTEM)
    return OpenedMove(asset.pk, move=move)


def moves_finish(*, opened: list[OpenedMove | None], actor) -> dict[int, str]:
    """Run the byte work a committed transaction decided on; report what was refused.

    A refusal here (a hold placed a moment ago) leaves the asset where it was, the move
    cancelled and audited; enforcement carries it out once nothing blocks it.
    """
    refused = {}
    for item in opened:
        if item is None:
            continue
        crash_point(f"{item.move.kind}.opened")
        try:
            # The system brings restored bytes home; the person asked for the restore.
            mover = SYSTEM if item.move.kind == PendingMove.Kind.MOVE else actor
            move_run(item.move, actor=mover, intent=item.intent)
        except ArchiveError as exc:
            refused[item.asset_id] = exc.message
            logger.warning("byte work for asset %s not finished: %s", item.asset_id, exc)
        except DatabaseError as exc:
            # The operation that opened the move has committed: never undo or retry it
            # from here. The recorded move stays open and the resumer finishes it.
            refused[item.asset_id] = f"left to the resumer: {exc}"
            logger.warning("move %s left to the resumer: %s", item.move.pk, exc)
    return refused


def quarantine_deadlines_remind(*, within_days: int | None = None) -> int:
    """Audit (once per quarantine) each restore deadline that closes within the next days."""
    days = settings.KEEPSAKE_QUARANTINE_REMIND_DAYS if within_days is None else within_days
    now = timezone.now()
    due = QuarantineRecord.objects.filter(
        restored_at__isnull=True,
        purged_at__isnull=True,
        reminded_at__isnull=True,
        restore_deadline__lte=now + timedelta(days=days),
    )
    reminded = 0
    for record in due.select_related("asset").order_by("restore_deadline", "pk"):
        with audited():
            # The conditional update claims the reminder: a parallel run skips it.
            if not QuarantineRecord.objects.filter(pk=record.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                continue
            audit_record(
                actor=SYSTEM,
                verb="quarantine.deadline_near",
                obj=record.asset,
                after={"restore_deadline": record.restore_deadline, "quarantine": record.pk},
            )
        logger.info("restore window of %s closes at %s", record.asset, record.restore_deadline)
        reminded += 1
    return reminded
