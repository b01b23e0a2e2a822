"""Consolidation: fold confirmed duplicates into one canonical asset, losing nothing.

One audited transaction, in the global lock order: the group's assets first (by primary
key, `archive.lifecycle.assets_lock`), then candidates and catalogue entries, the audit
chain head last (appended when the transaction ends). Inside it: refuse if licences
conflict without sign-off, repoint every entry to the canonical, merge EXIF onto the
canonical (conflicting values are kept as alternatives in the provenance, never
overwritten), then each replaced asset takes the lifecycle's guarded `replace`
transition and is quarantined by retention (bytes kept, restorable).

Undo is exact in any order. Entries are only ever moved by consolidations, so each
entry has a home (the asset it was on before any consolidation moved it, recorded with
every move) and belongs at the end of its home's `replaced_by` chain; an undo sends each
entry it moved to that place, computed as if the undone consolidation never happened.
EXIF is recomputed the same way: a canonical's EXIF is its own (recorded before the
first consolidation into it) merged with the EXIF of the assets of every consolidation
into it still in force, oldest first, and an undo recomputes it for the canonical and
every asset above it in the chain. The window of an undo is the replaced assets' own
quarantine deadline, the one retention enforces.
"""

import functools

from django.db import OperationalError, connection
from django.utils import timezone

from archive.actors import actor_require, actor_user
from archive.audit import after_audited, audit_record, audited
from archive.errors import ArchiveError
from archive.faults import crash_point
from archive.holds import hold_refusals_audited
from archive.licensing import licence_conflict_unresolved
from archive.lifecycle import Transition, asset_transition, assets_lock, guard_check
from archive.models import Asset, CatalogueEntry
from dedup.models import Consolidation, DuplicateCandidate
from dedup.selectors import reference_collections
from retention.models import QuarantineRecord
from retention.services import moves_finish, quarantine_begin, restore_in_place

# Deadlock and serialisation failures: the database chose this transaction to give way.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3


def retrying_conflicts(fn):
    """Run fn again (a bounded number of times) when the database broke a lock cycle.

    The lock order makes deadlocks between Keepsake's own writers impossible, but
    PostgreSQL may still pick a victim (e.g. a foreign-key share lock taken behind an
    application's back); the outermost service retries instead of answering 500.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            return fn(*args, **kwargs)  # inside a caller's transaction: the caller retries
        for attempt in range(ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                state = getattr(exc.__cause__, "sqlstate", None)
                if state not in RETRYABLE_SQLSTATES or attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    return wrapper


def _group_lock(canonical_id: int, replaced_ids: list[int]) -> tuple[Asset, list[Asset]]:
    if canonical_id in replaced_ids:
        raise ArchiveError("The canonical asset cannot replace itself.", code="invalid")
    if not replaced_ids:
        raise ArchiveError("A consolidation replaces at least one asset.", code="invalid")
    locked = assets_lock([canonical_id, *replaced_ids])
    group = [locked[canonical_id], *(locked[pk] for pk in sorted(set(replaced_ids)))]
    for asset in group:
        if asset.state != Asset.State.ACTIVE or asset.replaced_by_id is not None:
            raise ArchiveError(
                f"{asset} is no longer active; reload and decide again.", code="conflict"
            )
    return group[0], group[1:]


def _reference_refuse(replaced: list[Asset]) -> None:
    # Reference collections (dupeGuru's reference folders): their copies always win.
    reference = reference_collections(asset_ids=[a.pk for a in replaced])
    if reference:
        named = "; ".join(f"asset {pk} ({name})" for pk, name in sorted(reference.items()))
        raise ArchiveError(
            f"Assets of a reference collection are always the canonical copy and are never "
            f"replaced: {named}. Keep that copy instead, or decide the pair as not a duplicate.",
            code="reference_collection",
        )


def _guard(canonical: Asset, replaced: list[Asset], actor) -> None:
    # The replaced assets are guarded by their replace transition; the canonical gains
    # their records and metadata, which a hold on it freezes as well.
    guard_check(asset=canonical, action="consolidate", actor=actor)
    _reference_refuse(replaced)
    if licence_conflict_unresolved(assets=[canonical, *replaced]):
        raise ArchiveError(
            "The records of these files carry different licence terms; someone with the "
            "licensing permission must sign off before they are consolidated.",
            code="licence_conflict",
        )


def _exif_merge(merged: dict, canonical_id: int, replaced: list[Asset]) -> tuple[dict, dict]:
    merged, provenance = dict(merged), {}
    for asset in replaced:
        for key, value in sorted(asset.exif.items()):
            if key not in merged:
                merged[key] = value
                provenance.setdefault(key, {"kept": value, "from_asset": asset.pk})
            elif merged[key] != value:
                entry = provenance.setdefault(
                    key, {"kept": merged[key], "from_asset": canonical_id}
                )
                entry.setdefault("alternatives", []).append({"value": value, "asset": asset.pk})
    return merged, provenance


def _exif_recompute(canonical: Asset) -> None:
    """Give canonical its own EXIF merged with that of every consolidation in force."""
    into = Consolidation.objects.filter(canonical=canonical).order_by("pk")
    first = into.first()
    if first is None:
        return
    merged = dict(first.snapshot.get("canonical_exif", canonical.exif))
    for consolidation in into.filter(undone_at__isnull=True).prefetch_related("replaced"):
        replaced = sorted(consolidation.replaced.all(), key=lambda a: a.pk)
        merged, provenance = _exif_merge(merged, canonical.pk, replaced)
        if consolidation.provenance.get("exif") != provenance:
            consolidation.provenance = {**consolidation.provenance, "exif": provenance}
            consolidation.save(update_fields=["provenance"])
    if canonical.exif != merged:
        canonical.exif = merged
        canonical.save(update_fields=["exif"])


def _entry_home(entry: CatalogueEntry) -> int:
    # Where the entry was before any consolidation in force moved it onto its asset.
    for consolidation in Consolidation.objects.filter(
        canonical_id=entry.asset_id, undone_at__isnull=True
    ).order_by("-pk"):
        for moved in consolidation.snapshot.get("entries", []):
            if moved["entry"] == entry.pk:
                return moved.get("home", moved["from_asset"])
    return entry.asset_id


def _entries_repoint(canonical: Asset, replaced: list[Asset], actor) -> list[dict]:
    moved = []
    entries = CatalogueEntry.objects.filter(asset__in=replaced).order_by("pk")
    for entry in entries.select_for_update(no_key=True):
        moved.append({"entry": entry.pk, "from_asset": entry.asset_id, "home": _entry_home(entry)})
        _entry_move(entry, canonical.pk, actor)
    return moved


def _entry_move(entry: CatalogueEntry, asset_id: int, actor, reason: str = "") -> None:
    before = entry.asset_id
    entry.asset_id = asset_id
    entry.save(update_fields=["asset"])
    audit_record(
        actor=actor,
        verb="entry.repointed",
        obj=entry,
        reason=reason,
        before={"asset": before},
        after={"asset": asset_id},
    )


def _provenance(replaced, exif_provenance, moved) -> dict:
    return {
        "exif": exif_provenance,
        "entries": moved,
        "replaced": [
            {
                "asset": a.pk,
                "sha256": a.sha256,
                "original_path": a.original_path,
                "format": a.format,
                "width": a.width,
                "height": a.height,
                "sources": [
                    {"collection": s.collection.name, "path": s.path}
                    for s in a.sources.select_related("collection")
                ],
            }
            for a in replaced
        ],
    }


def _person(actor, doing: str):
    user = actor_user(actor)
    if user is None:
        # Consolidations record the person who decided (and undid) them.
        raise ArchiveError(f"Only a named person may {doing}.", code="permission_denied")
    return user


def _candidates_lock(candidates) -> list[DuplicateCandidate]:
    ids = sorted({c.pk for c in candidates})
    # NO KEY: candidate rows are never deleted, only their status changes.
    rows = DuplicateCandidate.objects.filter(pk__in=ids).order_by("pk")
    return list(rows.select_for_update(no_key=True))


@hold_refusals_audited()
@retrying_conflicts
@audited
def consolidation_execute(
    *,
    canonical: Asset,
    replaced: list[Asset],
    candidates: list[DuplicateCandidate],
    actor,
    reason: str = "",
) -> Consolidation:
    """Consolidate replaced assets into canonical; every step audited, all or nothing.

    No bytes are copied inside the transaction: it records the records' changes, the
    replacements and the quarantine moves; the copies run once the outermost audited
    block has ended (`after_audited`), and a crash in between is finished by
    `moves_resume`.
    """
    person = _person(actor, "consolidate duplicates")
    canonical, replaced = _group_lock(canonical.pk, [a.pk for a in replaced])
    _guard(canonical, replaced, actor)
    candidates = _candidates_lock(candidates)
    snapshot = {"canonical_exif": canonical.exif}
    merged, exif_provenance = _exif_merge(canonical.exif, canonical.pk, replaced)
    moved = _entries_repoint(canonical, replaced, actor)
    crash_point("consolidate.entries_repointed")
    snapshot["entries"] = moved
    canonical.exif = merged
    canonical.save(update_fields=["exif"])
    consolidation = Consolidation.objects.create(
        canonical=canonical,
        provenance=_provenance(replaced, exif_provenance, moved),
        snapshot=snapshot,
        reason=reason,
        created_by=person,
    )
    consolidation.replaced.set(replaced)
    consolidation.candidates.set(candidates)
    why = f"replaced by asset {canonical.pk} (consolidation {consolidation.pk})"
    for asset in replaced:
        asset_transition(
            asset=asset,
            transition=Transition.REPLACE,
            actor=actor,
            reason=why,
            changes={"replaced_by": canonical},
            after={"replaced_by": canonical.pk, "consolidation": consolidation.pk},
        )
        crash_point("consolidate.replaced")
        _bytes_after(quarantine_begin(asset=asset, actor=actor, reason=why), actor)
    audit_record(
        actor=actor,
        verb="consolidation.executed",
        obj=consolidation,
        reason=reason,
        after={
            "canonical": canonical.pk,
            "replaced": [a.pk for a in replaced],
            "entries_moved": len(moved),
        },
    )
    return consolidation


def _bytes_after(opened, actor) -> None:
    if opened is not None:
        after_audited(lambda: moves_finish(opened=[opened], actor=actor))


def consolidation_undo_deadline(consolidation: Consolidation):
    """When the undo closes: the earliest restore deadline of the replaced assets.

    The quarantine records are the one source of truth for the window, so an undo and a
    purge never disagree about it; None once no replaced asset is in quarantine.
    """
    if consolidation.undone_at is not None:
        return None
    open_records = QuarantineRecord.objects.filter(
        asset__in=consolidation.replaced.all(), restored_at__isnull=True, purged_at__isnull=True
    )
    return min(open_records.values_list("restore_deadline", flat=True), default=None)


def _chain(asset_id: int) -> list[int]:
    """asset_id and the assets above it by replaced_by, up to the one not replaced."""
    chain = [asset_id]
    while True:
        above = Asset.objects.filter(pk=chain[-1]).values_list("replaced_by", flat=True).first()
        if above is None or above in chain:
            return chain
        chain.append(above)


def _undo_scope(consolidation: Consolidation) -> set[int]:
    replaced = set(consolidation.replaced.values_list("pk", flat=True))
    chain = _chain(consolidation.canonical_id)
    merged_into_chain = Consolidation.objects.filter(
        canonical__in=chain, undone_at__isnull=True
    ).values_list("replaced", flat=True)
    return {*chain, *replaced, *(pk for pk in merged_into_chain if pk is not None)}


def _undo_lock(consolidation: Consolidation) -> tuple[Consolidation, dict[int, Asset]]:
    # Assets first, in pk order; the set is read before locking, so read it again under
    # the locks and start over should a concurrent change have altered it.
    for _attempt in range(ATTEMPTS):
        scope = _undo_scope(consolidation)
        locked = assets_lock(scope)
        if _undo_scope(consolidation) == scope:
            break
    else:
        raise ArchiveError("The assets changed meanwhile; try the undo again.", code="conflict")
    locked_consolidation = Consolidation.objects.select_for_update(no_key=True).get(
        pk=consolidation.pk
    )
    return locked_consolidation, locked


def _undo_check(consolidation: Consolidation, locked: dict[int, Asset]) -> None:
    if consolidation.undone_at is not None:
        raise ArchiveError("This consolidation was already undone.", code="conflict")
    canonical = locked[consolidation.canonical_id]
    root = locked[_chain(canonical.pk)[-1]]
    if canonical.state == Asset.State.PURGED or root.state != Asset.State.ACTIVE:
        raise ArchiveError(
            f"The canonical asset {root} is no longer live ({root.get_state_display().lower()});"
            " restore it before undoing this consolidation.",
            code="conflict",
        )
    for asset in consolidation.replaced.all():
        asset = locked[asset.pk]
        if asset.state != Asset.State.QUARANTINED or asset.replaced_by_id != canonical.pk:
            raise ArchiveError(
                f"{asset} is no longer quarantined as replaced by {canonical}; "
                "this consolidation cannot be undone exactly.",
                code="conflict",
            )
    deadline = consolidation_undo_deadline(consolidation)
    if deadline is None or timezone.now() > deadline:
        raise ArchiveError("The restore window of this consolidation has closed.", code="conflict")


def _entries_return(consolidation: Consolidation, actor) -> int:
    """Send each entry the consolidation moved to where it belongs without it."""
    moves = {m["entry"]: m for m in consolidation.snapshot.get("entries", [])}
    returned = 0
    entries = CatalogueEntry.objects.filter(pk__in=moves).order_by("pk")
    for entry in entries.select_for_update(no_key=True):
        home = moves[entry.pk].get("home", moves[entry.pk]["from_asset"])
        target = _chain(home)[-1]
        if entry.asset_id != target:
            _entry_move(entry, target, actor, reason=f"undo of consolidation {consolidation.pk}")
            returned += 1
    return returned


@hold_refusals_audited()
@retrying_conflicts
@audited
def consolidation_undo(*, consolidation: Consolidation, actor, reason: str = "") -> None:
    """Put back entries, metadata and assets as if the consolidation had never happened.

    The replaced assets are restored in place at once (active, replacement ended), so the
    records go back exactly; their bytes go home from quarantine after the transaction.
    """
    actor_require(actor, "dedup.review_duplicates", "undo a consolidation (review permission)")
    person = _person(actor, "undo a consolidation")
    consolidation, locked = _undo_lock(consolidation)
    _undo_check(consolidation, locked)
    # A hold freezes records where they are: an undo would repoint them and change what
    # the hold reaches (a replaced asset is frozen with its canonical), so it waits.
    for asset_id in sorted(
        {consolidation.canonical_id, *consolidation.replaced.values_list("pk", flat=True)}
    ):
        guard_check(asset=locked[asset_id], action="undo", actor=actor)
    why = f"undo of consolidation {consolidation.pk}"
    replaced = list(consolidation.replaced.order_by("pk").values_list("pk", flat=True))
    for asset_id in replaced:
        _bytes_after(restore_in_place(asset=locked[asset_id], actor=actor, reason=why), actor)
    crash_point("undo.restored")
    returned = _entries_return(consolidation, actor)
    consolidation.undone_at, consolidation.undone_by = timezone.now(), person
    consolidation.save(update_fields=["undone_at", "undone_by"])
    for asset_id in _chain(consolidation.canonical_id):
        _exif_recompute(Asset.objects.get(pk=asset_id))
    consolidation.candidates.update(
        status=DuplicateCandidate.Status.PENDING, decided_by=None, decided_at=None
    )
    audit_record(
        actor=actor,
        verb="consolidation.undone",
        obj=consolidation,
        reason=reason,
        after={"entries_restored": returned, "replaced": sorted(replaced)},
    )
