"""Storage moves: copy, verify, switch, verify again, delete; the byte half of quarantine
and restore too.

Every move (kinds move, quarantine, restore) is a `PendingMove` row walked through its
steps, so a crash anywhere leaves a row that `moves_resume` finishes, and at every instant
the asset's pointer names a copy that verified:

1. open (a short audited transaction, in the service): the asset locked, the guard
   asked, the row written as started; the asset is unchanged.
2. copy (outside any transaction of this module): the destination is written, fsynced
   (local disks) and its SHA-256 checked; the row becomes copied.
3. switch (a short audited transaction): with the asset locked, the destination's SHA-256
   is checked again (a copy that was not on disk when the power went is caught here and
   copied anew), then one lifecycle transition does the whole change: MOVE (pointer),
   QUARANTINE (state, pointer, quarantine record opened) or RESTORE (state, pointer,
   record closed, replacement ended, dispositions voided). The row becomes switched.
4. delete (after commit): the source is deleted only if nothing points at it again and
   the asset's current copy still verifies. If it does not, the source is kept, the
   failure is recorded as a fixity problem and, when the source verifies, the pointer
   goes back to it (the move is cancelled): the last verified copy is never deleted.

Between the phases the asset shows what it was before: a quarantine under way leaves it
active at its old location until the switch, a restore under way leaves it quarantined
(the guard refuses a purge while a restore or other copy of it is under way). A service
called inside a caller's transaction (consolidation quarantines each replaced asset) runs
all phases in it, synchronously; its source is deleted when the caller commits.

Crash points (`archive.faults.crash_point`), in order, for KIND in move, quarantine and
restore: `KIND.opened` (the row committed, nothing copied; passed in the services),
`KIND.written` (destination written, not yet verified), `KIND.copied` (verified copy
recorded), `KIND.switched` (switch committed, source not yet deleted),
`KIND.source_deleted` (source deleted, the row not yet done). A purge passes
`purge.tombstoned` (tombstone committed, file not yet deleted) and `purge.deleted`.

Keys are content addresses, so only assets with the same SHA-256 can ever share a
location (at most one of them live); deletions lock all of those rows in primary-key order.
"""

from datetime import timedelta

from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from archive.actors import SYSTEM, actor_require, actor_user
from archive.audit import audited
from archive.errors import ArchiveError
from archive.faults import crash_point
from archive.holds import LegalHoldRefused, hold_refusals_audited
from archive.lifecycle import Transition, asset_lock, asset_transition, assets_lock, guard_check
from archive.models import Asset
from archive.storage import digest_file, file_save
from retention.guard import asset_family_lock
from retention.models import PendingMove

# A worker owns a claimed move this long (django-q2 times a task out after 600 s).
MOVE_LEASE = timedelta(minutes=10)
OPEN_STEPS = [PendingMove.Step.STARTED, PendingMove.Step.COPIED, PendingMove.Step.SWITCHED]
# A destination that fails its check at the switch is copied again this many times at most.
COPY_ATTEMPTS = 3

# What the asset's pointer names after the switch, for the crash points of each kind.
_AFTER_SWITCH = {PendingMove.Kind.PURGE: "purge.tombstoned"}
_AFTER_DELETE = {PendingMove.Kind.PURGE: "purge.deleted"}


def stored_digest(*, alias: str, key: str) -> str | None:
    """SHA-256 of the bytes stored under key in tier alias, or None when nothing is there."""
    try:
        with storages[alias].open(key, "rb") as fp:
            return digest_file(fp)[0]
    except FileNotFoundError:
        return None


def location_in_use(*, alias: str, key: str) -> bool:
    """Whether any asset that still holds bytes points at alias:key."""
    return Asset.objects.holding_bytes().filter(storage_alias=alias, storage_key=key).exists()


def _lock_sha(sha256: str) -> dict[int, Asset]:
    # Every asset that could point at this content address, in the global (pk) order.
    return assets_lock(Asset.objects.filter(sha256=sha256).values_list("pk", flat=True))


def _step_set(move: PendingMove, step: str, **fields) -> None:
    now = timezone.now()
    closed = step in (PendingMove.Step.DONE, PendingMove.Step.CANCELLED)
    PendingMove.objects.filter(pk=move.pk).update(
        step=step, updated_at=now, completed_at=now if closed else None, **fields
    )
    move.step = step


def _actor_of(move: PendingMove):
    # The person who started the move, or the system (stored as no user).
    return move.actor if move.actor_id is not None else SYSTEM


def _write(move: PendingMove) -> None:
    destination = storages[move.to_alias]
    with storages[move.from_alias].open(move.from_key, "rb") as source:
        if digest_file(source)[0] != move.sha256:
            # Never copy (or "repair" from) damaged bytes: fixity reports them to a person.
            raise ArchiveError(
                f"{move.from_alias}:{move.from_key} does not match its SHA-256; not copied.",
                code="fixity",
            )
        stored_as = file_save(storage=destination, key=move.to_key, fp=source)
    if stored_as != move.to_key:
        # Another worker wrote the same key meanwhile; the storage kept both under new names.
        destination.delete(stored_as)


def move_copy(move: PendingMove) -> None:
    """Make the destination hold verified bytes (reusing a verified copy already there)."""
    if move.step != PendingMove.Step.STARTED:
        return
    found = stored_digest(alias=move.to_alias, key=move.to_key)
    if found is not None and found != move.sha256:
        if location_in_use(alias=move.to_alias, key=move.to_key):
            raise ArchiveError(f"{move.to_alias}:{move.to_key} holds other bytes in use.")
        # A copy an interrupted attempt left half-written; nothing points at it.
        storages[move.to_alias].delete(move.to_key)
        found = None
    if found is None:
        _write(move)
        crash_point(f"{move.kind}.written")
        if stored_digest(alias=move.to_alias, key=move.to_key) != move.sha256:
            raise ArchiveError(f"{move.to_alias}:{move.to_key} did not verify after copying.")
    _step_set(move, PendingMove.Step.COPIED)
    crash_point(f"{move.kind}.copied")


def _switch_apply(move: PendingMove, asset: Asset, actor, intent: dict | None) -> str:
    """The lifecycle transition of the switch; returns the step the move ends in."""
    pointer = {"storage_alias": move.to_alias, "storage_key": move.to_key}
    if move.kind == PendingMove.Kind.MOVE:
        asset_transition(
            asset=asset,
            transition=Transition.MOVE,
            actor=actor,
            reason=move.get_kind_display(),
            changes=pointer,
            before={"storage": f"{move.from_alias}:{move.from_key}"},
            after={"storage": f"{move.to_alias}:{move.to_key}", "sha256": move.sha256},
        )
        return PendingMove.Step.SWITCHED
    # Imported here: the services build on this module.
    from retention import services

    if move.kind == PendingMove.Kind.QUARANTINE:
        intent = intent or services.quarantine_intent(move)
        services.quarantine_switch(asset=asset, actor=actor, intent=intent, move=move)
        return PendingMove.Step.SWITCHED
    intent = intent or services.restore_intent(move)
    moved = services.restore_switch(asset=asset, actor=actor, intent=intent, move=move)
    return PendingMove.Step.SWITCHED if moved else PendingMove.Step.CANCELLED


@audited
def move_switch(move: PendingMove, *, actor, intent: dict | None = None) -> str:
    """Point the asset at the verified destination: one audited lifecycle transition."""
    asset = asset_family_lock(move.asset_id)
    move.refresh_from_db()
    if move.step != PendingMove.Step.COPIED:
        return move.step
    if (asset.storage_alias, asset.storage_key) != (move.from_alias, move.from_key):
        raise ArchiveError(f"{asset} moved elsewhere meanwhile; move {move.pk} abandoned.")
    # Checked again inside the lock, right before the pointer names these bytes: a copy
    # verified before a crash may not have reached the disk. Reading one file under the
    # asset's row lock is the price; the audit chain head is not held meanwhile.
    if stored_digest(alias=move.to_alias, key=move.to_key) != move.sha256:
        _step_set(
            move, PendingMove.Step.STARTED, error="destination failed its check at the switch"
        )
        return PendingMove.Step.STARTED
    step = _switch_apply(move, asset, actor, intent)
    if step == PendingMove.Step.CANCELLED:
        _destination_discard(move)
        _step_set(move, step, error="under legal hold: restored in place")
        return step
    _step_set(move, PendingMove.Step.SWITCHED)
    move_source_delete_on_commit(move)
    return PendingMove.Step.SWITCHED


def move_source_delete_on_commit(move: PendingMove) -> None:
    """Delete the switched move's source once the transaction commits (or on resume)."""
    move_id, point = move.pk, _AFTER_SWITCH.get(move.kind, f"{move.kind}.switched")

    def delete():
        crash_point(point)
        move_source_delete(move_id)

    transaction.on_commit(delete, robust=True)


def _destination_discard(move: PendingMove) -> None:
    # Called with the moved asset locked: it is the one live asset of this content, so
    # nothing can come to point at the destination meanwhile. Deleting before the move is
    # closed means a crash in between leaves an open move (resumed), never an orphan file.
    if move.kind != PendingMove.Kind.PURGE and not location_in_use(
        alias=move.to_alias, key=move.to_key
    ):
        storages[move.to_alias].delete(move.to_key)


@audited
def move_cancel(move: PendingMove, *, error: str) -> None:
    """Close a move that cannot finish, deleting what it copied unless an asset uses it."""
    asset_lock(move.asset_id)
    move.refresh_from_db()
    if not move.is_open or move.step == PendingMove.Step.SWITCHED:
        return
    _destination_discard(move)
    _step_set(move, PendingMove.Step.CANCELLED, error=error)


def _current_copy_problem(move: PendingMove, asset: Asset) -> str:
    """Why the asset's current copy cannot replace the source, or "" when it verifies."""
    if asset.state == Asset.State.PURGED:
        return ""  # a tombstone keeps no bytes; nothing needs the source any more
    found = stored_digest(alias=asset.storage_alias, key=asset.storage_key)
    if found == move.sha256:
        return ""
    where = f"{asset.storage_alias}:{asset.storage_key}"
    return f"{where} failed verification ({'missing' if found is None else 'SHA-256 mismatch'})"


def _source_keep(move: PendingMove, asset: Asset, problem: str) -> str:
    """The current copy failed: keep the source; point back at it when it verifies."""
    from retention.fixity import fixity_record

    actual = stored_digest(alias=asset.storage_alias, key=asset.storage_key)
    if not move.error.startswith(problem):
        # Recorded once per problem, not on every resume that finds it again.
        fixity_record(asset=asset, actual_sha256=actual or "", error=problem)
    if stored_digest(alias=move.from_alias, key=move.from_key) != move.sha256:
        # No copy verifies: nothing is deleted; a person decides (fixity shows it).
        PendingMove.objects.filter(pk=move.pk).update(
            error=f"{problem}; the source does not verify either; both kept"
        )
        return "kept"
    asset_transition(
        asset=asset,
        transition=Transition.MOVE,
        actor=SYSTEM,
        # Back to a copy that verifies never removes anything: not guarded, even when held.
        guard=False,
        reason=f"{problem} before the source was deleted; back on the verified source",
        changes={"storage_alias": move.from_alias, "storage_key": move.from_key},
        before={"storage": f"{asset.storage_alias}:{asset.storage_key}"},
        after={"storage": f"{move.from_alias}:{move.from_key}", "sha256": move.sha256},
    )
    _destination_discard(move)
    _step_set(move, PendingMove.Step.CANCELLED, error=f"{problem}; the source was kept")
    return "kept"


@audited
def move_source_delete(move_id: int) -> str:
    """Delete a switched move's source once the asset's copy verifies; idempotent."""
    move = PendingMove.objects.get(pk=move_id)
    locked = _lock_sha(move.sha256)
    move.refresh_from_db()
    if move.step != PendingMove.Step.SWITCHED:
        return move.step
    if location_in_use(alias=move.from_alias, key=move.from_key):
        # A later move (a restore) went back to this location: the bytes are needed.
        _step_set(move, PendingMove.Step.DONE, error="source in use again; kept")
        return "kept"
    if move.kind != PendingMove.Kind.PURGE:
        problem = _current_copy_problem(move, locked[move.asset_id])
        if problem:
            return _source_keep(move, locked[move.asset_id], problem)
    storages[move.from_alias].delete(move.from_key)
    crash_point(_AFTER_DELETE.get(move.kind, f"{move.kind}.source_deleted"))
    _step_set(move, PendingMove.Step.DONE)
    return "deleted"


def move_open(*, asset: Asset, kind: str, to_alias: str, actor) -> PendingMove:
    """Record a move of the locked asset to tier to_alias; the caller holds the transaction."""
    if PendingMove.objects.filter(
        asset=asset, step__in=[PendingMove.Step.STARTED, PendingMove.Step.COPIED]
    ).exists():
        raise ArchiveError(
            f"A move of {asset} is under way; it resumes on its own.", code="conflict"
        )
    move = PendingMove(
        asset=asset,
        kind=kind,
        sha256=asset.sha256,
        from_alias=asset.storage_alias,
        from_key=asset.storage_key,
        to_alias=to_alias,
        to_key=asset.storage_key,
        actor=actor_user(actor),
        claimed_until=timezone.now() + MOVE_LEASE,
    )
    move.full_clean()
    move.save()
    return move


def move_run(move: PendingMove, *, actor, intent: dict | None = None) -> str:
    """Copy, verify and switch (the source is deleted once the switch commits)."""
    for _attempt in range(COPY_ATTEMPTS):
        try:
            move_copy(move)
        except ArchiveError as exc:
            if exc.code == "fixity":
                move_cancel(move, error=exc.message)
            raise
        try:
            # A hold refusal rolled back with the switch is audited again on the way out.
            with hold_refusals_audited():
                step = move_switch(move, actor=actor, intent=intent)
        except ArchiveError as exc:
            # Refused by the guard, or the asset changed meanwhile: the move cannot finish.
            move_cancel(move, error=exc.message)
            raise
        if step != PendingMove.Step.STARTED:
            return step
    raise ArchiveError(
        f"{move.to_alias}:{move.to_key} failed its check at the switch {COPY_ATTEMPTS} times."
    )


@audited
def _move_start(*, asset: Asset, to_alias: str, actor) -> PendingMove | None:
    asset = asset_family_lock(asset)
    if asset.storage_alias == to_alias:
        return None
    guard_check(asset=asset, action="move", actor=actor)
    return move_open(asset=asset, kind=PendingMove.Kind.MOVE, to_alias=to_alias, actor=actor)


@hold_refusals_audited()
def asset_move(*, asset: Asset, to_alias: str, actor) -> PendingMove | None:
    """Move asset's bytes to tier to_alias (None when already there); resumable at any step."""
    if to_alias not in (Asset.Tier.HOT, Asset.Tier.COLD):
        raise ArchiveError("Assets move between the hot and cold tiers; use quarantine.")
    actor_require(actor, "retention.move_asset", "move assets")
    move = _move_start(asset=asset, to_alias=to_alias, actor=actor)
    if move is None:
        return None
    crash_point("move.opened")
    move_run(move, actor=actor)
    move.refresh_from_db()
    return move


def _claim(move_id: int) -> bool:
    now = timezone.now()
    claimed = (
        PendingMove.objects.filter(pk=move_id, step__in=OPEN_STEPS)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + MOVE_LEASE, updated_at=now)
    )
    return claimed == 1


def _resume_one(move: PendingMove) -> str:
    if move.step == PendingMove.Step.SWITCHED:
        return move_source_delete(move.pk)
    try:
        step = move_run(move, actor=_actor_of(move))
    except LegalHoldRefused:
        return "cancelled"
    except ArchiveError:
        move.refresh_from_db()
        if move.step == PendingMove.Step.CANCELLED:
            return "cancelled"
        raise
    if step == PendingMove.Step.CANCELLED:
        return "cancelled"
    # Usually already done by the switch's on-commit hook; deleting again is a no-op.
    return move_source_delete(move.pk)


def moves_resume(*, limit: int = 200) -> dict[str, int]:
    """Finish every interrupted move whose lease has run out; safe to run twice at once."""
    counts: dict[str, int] = {}
    ids = (
        PendingMove.objects.filter(step__in=OPEN_STEPS).order_by("pk").values_list("pk", flat=True)
    )
    for move_id in list(ids[:limit]):
        if not _claim(move_id):
            counts["busy"] = counts.get("busy", 0) + 1
            continue
        move = PendingMove.objects.get(pk=move_id)
        try:
            outcome = _resume_one(move)
        except ArchiveError as exc:
            PendingMove.objects.filter(pk=move_id).update(
                error=exc.message, attempts=move.attempts + 1
            )
            outcome = "failed"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
