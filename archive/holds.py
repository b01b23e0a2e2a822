"""Legal holds: place and release them, and refuse (and audit) actions on frozen assets.

Every destructive path (consolidation, quarantine, storage moves, purge) calls
`hold_guard_check` inside its own transaction, after locking the asset row. A refusal must
stay on the record even though the caller's transaction rolls back when the refusal
propagates, and Django has no on-rollback hook. So the guard writes the refusal event in
the current transaction (which keeps it whenever the caller catches the error and commits,
e.g. a batch that skips frozen assets) and raises `LegalHoldRefused`, which carries what
was refused; wrapping the caller's outermost transaction in `hold_refusals_audited()`
writes the event again, in a transaction of its own, when the rollback took it away:

    @hold_refusals_audited()
    @audited
    def disposition_execute(*, asset, actor):
        asset = asset_lock(asset)
        hold_guard_check(asset=asset, action="purge", actor=actor)
        ...

Writing the event on a second database connection instead would wait forever for the
write lock the caller holds (SQLite takes it at BEGIN; PostgreSQL's chain head row is
locked once the caller has audited anything).
"""

from collections.abc import Iterable
from contextlib import ContextDecorator

from django.db import connection
from django.utils import timezone

from archive.actors import SYSTEM, actor_require, actor_user
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.models import Asset, AuditEvent, CatalogueEntry, Collection, LegalHold
from archive.selectors import asset_active_holds, hold_reach, hold_scope, holds_over


class LegalHoldRefused(ArchiveError):
    """An action on a frozen asset was refused; carries what is needed to audit it again."""

    def __init__(
        self,
        message: str,
        *,
        asset_id: int,
        action: str,
        actor,
        holds: list[dict],
        event=None,
        record=None,
        details: dict | None = None,
    ):
        super().__init__(message, code="legal_hold")
        self.asset_id = asset_id
        self.action = action
        self.actor = actor
        self.holds = holds
        # What the refused change was about when it is a record rather than the asset
        # itself (an entry or licence): audited under that record's type and id.
        self.object_type = record._meta.label_lower if record is not None else "archive.asset"
        self.object_id = record.pk if record is not None else asset_id
        self.details = details or {}
        # The refusal's audit event; inside an `audited` block it gets its hash when the
        # block ends, and never if the block rolled back.
        self.event = event

    @property
    def matter_references(self) -> list[str]:
        return sorted({hold["matter_reference"] for hold in self.holds})


def _person_require(actor, permission: str, doing: str) -> None:
    # A hold names who placed and who released it (the columns are required): the system
    # acting on its own never places or lifts one.
    if actor is SYSTEM:
        raise ArchiveError(f"Only a named person may {doing}.", code="permission_denied")
    actor_require(actor, permission, doing)


def _scope_lock(*, hold: LegalHold) -> list[int]:
    """Lock every asset the new hold freezes by name, then its collections: the guard's order."""
    # Read from the stored hold through the one scope definition, so the lock covers exactly
    # what the hold freezes, collections aside: those are locked as rows (a collection may
    # hold millions of assets), and the guard share-locks an asset's collections.
    scope = hold_scope(holds=LegalHold.objects.filter(pk=hold.pk), collections=False)
    # Locking the rows makes placement and any guarded action on them take turns, so an
    # action either finishes before the hold exists or sees it.
    locked = list(scope.order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))
    collections = Collection.objects.filter(legal_holds=hold).order_by("pk")
    list(collections.select_for_update(no_key=True, of=("self",)).values_list("pk", flat=True))
    return locked


@audited
def legal_hold_place(
    *,
    matter_reference: str,
    reason: str,
    assets: Iterable[Asset] = (),
    entries: Iterable[CatalogueEntry] = (),
    collections: Iterable[Collection] = (),
    actor,
) -> LegalHold:
    """Freeze assets, the assets of catalogue entries, or whole collections for a matter."""
    _person_require(actor, "archive.place_legal_hold", "place legal holds")
    assets, entries, collections = list(assets), list(entries), list(collections)
    if not matter_reference.strip():
        raise ArchiveError("A legal hold needs a matter reference.")
    if not reason.strip():
        raise ArchiveError("A legal hold needs a reason.")
    if not (assets or entries or collections):
        raise ArchiveError("A legal hold needs at least one asset, catalogue entry or collection.")
    hold = LegalHold(
        matter_reference=matter_reference.strip(),
        reason=reason.strip(),
        placed_by=actor_user(actor),
    )
    hold.full_clean()
    hold.save()
    hold.assets.set(assets)
    hold.entries.set(entries)
    hold.collections.set(collections)
    frozen = _scope_lock(hold=hold)
    audit_record(
        actor=actor,
        verb="legalhold.placed",
        obj=hold,
        after={
            "matter_reference": hold.matter_reference,
            "assets": sorted(a.pk for a in assets),
            "entries": sorted(e.pk for e in entries),
            "collections": sorted(c.pk for c in collections),
            "assets_with_twins": frozen,
        },
        reason=hold.reason,
    )
    return hold


@audited
def legal_hold_release(*, hold: LegalHold, reason: str, actor) -> LegalHold:
    """Release an active hold, recording who released it and why."""
    _person_require(actor, "archive.release_legal_hold", "release legal holds")
    hold = LegalHold.objects.select_for_update(no_key=True).get(pk=hold.pk)
    if not hold.is_active:
        raise ArchiveError(f"The hold {hold.matter_reference} was already released.")
    if not reason.strip():
        raise ArchiveError("Releasing a legal hold needs a reason.")
    hold.released_at = timezone.now()
    hold.released_by = actor_user(actor)
    hold.release_reason = reason.strip()
    hold.full_clean()
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    audit_record(
        actor=actor,
        verb="legalhold.released",
        obj=hold,
        before={"active": True},
        after={"active": False, "matter_reference": hold.matter_reference},
        reason=hold.release_reason,
    )
    return hold


def _share_lock_holds_scope(*, asset: Asset | None = None, asset_ids: Iterable[int] = ()) -> None:
    # The caller locked the asset; share-locking its family and collections as well makes a
    # concurrent placement on any of them wait for this action or be seen by it, while
    # guarded actions on other assets of the same collection still run side by side.
    # SQLite needs nothing: its writers are serialised by the database lock.
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    ids = {asset.pk} if asset is not None else set(asset_ids)
    family, collections = hold_reach(asset_ids=Asset.objects.filter(pk__in=ids).values("pk"))
    with connection.cursor() as cursor:
        for query in (family, collections):
            sql, params = query.values("pk").query.sql_with_params()
            table = query.model._meta.db_table
            # Django offers no FOR SHARE; the table name comes from the model, not input.
            cursor.execute(
                f"SELECT id FROM {table} WHERE id IN ({sql}) ORDER BY id FOR SHARE",  # noqa: S608
                params,
            )


@audited
def hold_refusal_record(*, refusal: LegalHoldRefused) -> AuditEvent:
    """Append the audit event of a refused action on a frozen asset."""
    return audit_record(
        actor=refusal.actor,
        verb="legalhold.refused",
        object_type=refusal.object_type,
        object_id=refusal.object_id,
        after={"action": refusal.action, "holds": refusal.holds, **refusal.details},
        reason=refusal.message,
    )


def hold_guard_check(*, asset: Asset, action: str, actor) -> None:
    """Refuse action on asset while a legal hold freezes it, auditing the refused attempt."""
    _share_lock_holds_scope(asset=asset)
    holds = asset_active_holds(asset=asset)
    if not holds:
        return
    matters = ", ".join(sorted({hold.matter_reference for hold in holds}))
    refusal = LegalHoldRefused(
        f"{asset} is under legal hold ({matters}); {action} refused.",
        asset_id=asset.pk,
        action=action,
        actor=actor,
        holds=[{"id": h.pk, "matter_reference": h.matter_reference} for h in holds],
    )
    refusal.event = hold_refusal_record(refusal=refusal)
    raise refusal


def record_hold_check(*, record, asset_ids: Iterable[int], fields: list[str], actor) -> None:
    """Refuse (and audit) a change to a record describing an asset under an active hold.

    The caller has locked the assets. Every column of an entry or licence is scope (the
    asset, collection or entry it belongs to: moving it out of a held collection would
    lift the hold) or evidence (what it said when the matter opened), so while a hold
    covers the record no change passes, whoever asks: lifting a hold takes the release
    permission and leaves its own audit event.
    """
    ids = sorted(set(asset_ids))
    if not ids:
        return
    _share_lock_holds_scope(asset_ids=ids)
    holds = list(
        holds_over(asset_ids=Asset.objects.filter(pk__in=ids).values("pk"))
        .filter(released_at__isnull=True)
        .order_by("placed_at", "pk")
    )
    if not holds:
        return
    matters = ", ".join(sorted({hold.matter_reference for hold in holds}))
    name = record._meta.verbose_name
    refusal = LegalHoldRefused(
        f"The {name} {record.pk} describes an asset under legal hold ({matters}); "
        f"changing its {', '.join(fields)} is refused until the hold is released.",
        asset_id=ids[0],
        action=f"change {record._meta.model_name}",
        actor=actor,
        holds=[{"id": h.pk, "matter_reference": h.matter_reference} for h in holds],
        record=record,
        details={"fields": fields, "assets": ids},
    )
    refusal.event = hold_refusal_record(refusal=refusal)
    raise refusal


class hold_refusals_audited(ContextDecorator):
    """Wrap a transaction so a hold refusal it rolled back is audited again afterwards."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        if isinstance(exc, LegalHoldRefused):
            _refusal_persist(refusal=exc)
        return False


def _refusal_persist(*, refusal: LegalHoldRefused) -> None:
    if connection.needs_rollback:
        # Still inside a broken outer transaction: nothing can be written here; the outer
        # boundary (if wrapped as well) records it once that transaction is over.
        return
    event = refusal.event
    if event is not None and event.hash and AuditEvent.objects.filter(hash=event.hash).exists():
        return
    refusal.event = hold_refusal_record(refusal=refusal)
