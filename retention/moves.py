"""Storage moves: copy, verify the SHA-256 at the destination, switch the pointer, delete.

Every move is a `PendingMove` row walked through its steps, so a crash anywhere leaves a
row that `moves_resume` finishes, and at every instant the asset's pointer names a copy
that verified:

1. started: the row exists; the asset still points at the source.
2. copied: the destination holds bytes whose SHA-256 was checked after writing.
3. switched: in one transaction, with the asset row locked, the pointer moves to the
   destination (checked to exist inside the lock) and the move is audited.
4. done: after commit, the source is deleted, unless something points at it again.

Keys are content addresses, so only assets with the same SHA-256 can ever share a
location; switches and deletions lock all of those rows, which orders them.
"""

from datetime import timedelta

from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.holds import LegalHoldRefused, hold_guard_check, hold_refusals_audited
from archive.models import Asset
from archive.storage import digest_file
from retention.models import PendingMove

# A worker owns a claimed move this long (django-q2 times a task out after 600 s).
MOVE_LEASE = timedelta(minutes=10)
OPEN_STEPS = [PendingMove.Step.STARTED, PendingMove.Step.COPIED, PendingMove.Step.SWITCHED]


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


def _lock_sha(sha256: str) -> list[Asset]:
    # Every asset that could point at this content address, in primary-key order.
    return list(Asset.objects.filter(sha256=sha256).order_by("pk").select_for_update(no_key=True))


def _step_set(move: PendingMove, step: str, **fields) -> None:
    now = timezone.now()
    closed = step in (PendingMove.Step.DONE, PendingMove.Step.CANCELLED)
    PendingMove.objects.filter(pk=move.pk).update(
        step=step, updated_at=now, completed_at=now if closed else None, **fields
    )
    move.step = step


def _write(move: PendingMove) -> None:
    destination = storages[move.to_alias]
    with storages[move.from_alias].open(move.from_key, "rb") as source:
        if digest_file(source)[0] != move.sha256:
            # Never copy (or "repair" from) damaged bytes: fixity reports them to a person.
            raise ArchiveError(
                f"{move.from_alias}:{move.from_key} does not match its SHA-256; not copied.",
                code="fixity",
            )
        stored_as = destination.save(move.to_key, File(source, name=move.to_key))
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
        if stored_digest(alias=move.to_alias, key=move.to_key) != move.sha256:
            raise ArchiveError(f"{move.to_alias}:{move.to_key} did not verify after copying.")
    _step_set(move, PendingMove.Step.COPIED)


@transaction.atomic
def move_switch(move: PendingMove, *, actor) -> None:
    """Point the asset at the verified destination, in one audited transaction."""
    _lock_sha(move.sha256)
    asset = Asset.objects.get(pk=move.asset_id)
    move.refresh_from_db()
    if move.step != PendingMove.Step.COPIED:
        return
    here = (asset.storage_alias, asset.storage_key)
    if here != (move.from_alias, move.from_key) and here != (move.to_alias, move.to_key):
        raise ArchiveError(f"{asset} moved elsewhere meanwhile; move {move.pk} abandoned.")
    if move.kind == PendingMove.Kind.MOVE:
        # Re-checked inside the lock: a hold placed while the bytes were copied wins.
        hold_guard_check(asset=asset, action="move", actor=actor)
    if not storages[move.to_alias].exists(move.to_key):
        raise ArchiveError(f"{move.to_alias}:{move.to_key} vanished before the switch.")
    asset.storage_alias, asset.storage_key = move.to_alias, move.to_key
    asset.save(update_fields=["storage_alias", "storage_key"])
    _step_set(move, PendingMove.Step.SWITCHED)
    audit_record(
        actor=actor,
        verb="asset.moved",
        obj=asset,
        before={"storage": f"{move.from_alias}:{move.from_key}"},
        after={"storage": f"{move.to_alias}:{move.to_key}", "sha256": move.sha256},
        reason=move.get_kind_display(),
    )
    move_id = move.pk
    transaction.on_commit(lambda: move_source_delete(move_id), robust=True)


@transaction.atomic
def move_source_delete(move_id: int) -> str:
    """Delete a switched move's source unless an asset points at it again; idempotent."""
    move = PendingMove.objects.get(pk=move_id)
    _lock_sha(move.sha256)
    move.refresh_from_db()
    if move.step != PendingMove.Step.SWITCHED:
        return move.step
    if location_in_use(alias=move.from_alias, key=move.from_key):
        # A later move (a restore) went back to this location: the bytes are needed.
        _step_set(move, PendingMove.Step.DONE, error="source in use again; kept")
        return "kept"
    storages[move.from_alias].delete(move.from_key)
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
        actor=actor,
        claimed_until=timezone.now() + MOVE_LEASE,
    )
    move.full_clean()
    move.save()
    return move


def move_run(move: PendingMove, *, actor) -> PendingMove:
    """Copy, verify and switch (the source is deleted once the switch commits)."""
    move_copy(move)
    move_switch(move, actor=actor)
    return move


def _move_start(*, asset: Asset, to_alias: str, actor) -> PendingMove | None:
    from retention.guard import Action, disposition_guard_check

    with transaction.atomic():
        asset = Asset.objects.select_for_update(no_key=True).get(pk=asset.pk)
        if asset.storage_alias == to_alias:
            return None
        disposition_guard_check(asset=asset, action=Action.MOVE, actor=actor)
        return move_open(asset=asset, kind=PendingMove.Kind.MOVE, to_alias=to_alias, actor=actor)


@hold_refusals_audited()
def asset_move(*, asset: Asset, to_alias: str, actor) -> PendingMove | None:
    """Move asset's bytes to tier to_alias (None when already there); resumable at any step."""
    if to_alias not in (Asset.Tier.HOT, Asset.Tier.COLD):
        raise ArchiveError("Assets move between the hot and cold tiers; use quarantine.")
    if actor is not None and not actor.has_perm("retention.move_asset"):
        raise ArchiveError("You do not have permission to move assets.", code="permission_denied")
    move = _move_start(asset=asset, to_alias=to_alias, actor=actor)
    if move is None:
        return None
    try:
        return move_run(move, actor=actor)
    except LegalHoldRefused:
        _step_set(move, PendingMove.Step.CANCELLED, error="a legal hold was placed meanwhile")
        raise


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
    asset = Asset.objects.get(pk=move.asset_id)
    if (asset.storage_alias, asset.storage_key) == (move.to_alias, move.to_key):
        _step_set(move, PendingMove.Step.SWITCHED)
        return move_source_delete(move.pk)
    try:
        move_run(move, actor=move.actor)
    except LegalHoldRefused:
        _step_set(move, PendingMove.Step.CANCELLED, error="under legal hold")
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
