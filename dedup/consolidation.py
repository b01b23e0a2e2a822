"""Consolidation: fold confirmed duplicates into one canonical asset, losing nothing.

In one transaction: lock the group's assets in primary-key order, refuse if any is held or
licences conflict without sign-off, repoint every catalogue entry to the canonical, merge
EXIF onto the canonical (conflicting values are kept as alternatives in the provenance,
never overwritten), mark the replaced assets `replaced_by` the canonical and quarantine
them (bytes kept, restorable). The snapshot makes an undo within the restore window exact.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.holds import hold_guard_check, hold_refusals_audited
from archive.licensing import licence_conflict_unresolved
from archive.models import Asset, CatalogueEntry
from dedup.models import Consolidation, DuplicateCandidate
from retention.services import asset_quarantine, asset_restore


def _lock_group(canonical: Asset, replaced: list[Asset]) -> tuple[Asset, list[Asset]]:
    ids = sorted({canonical.pk, *(asset.pk for asset in replaced)})
    # Fixed lock order (by primary key) so two consolidations never deadlock.
    locked = {
        asset.pk: asset
        for asset in Asset.objects.filter(pk__in=ids).order_by("pk").select_for_update(no_key=True)
    }
    group = [locked[canonical.pk], *(locked[a.pk] for a in replaced)]
    for asset in group:
        if asset.state != Asset.State.ACTIVE or asset.replaced_by_id is not None:
            raise ArchiveError(
                f"{asset} is no longer active; reload and decide again.", code="conflict"
            )
    if canonical.pk in {a.pk for a in replaced}:
        raise ArchiveError("The canonical asset cannot replace itself.", code="invalid")
    return group[0], group[1:]


def _guard(canonical: Asset, replaced: list[Asset], actor) -> None:
    for asset in [canonical, *replaced]:
        hold_guard_check(asset=asset, action="consolidate", actor=actor)
    if licence_conflict_unresolved(assets=[canonical, *replaced]):
        raise ArchiveError(
            "The records of these files carry different licence terms; someone with the "
            "licensing permission must sign off before they are consolidated.",
            code="licence_conflict",
        )


def _exif_merge(canonical: Asset, replaced: list[Asset]) -> tuple[dict, dict]:
    merged, provenance = dict(canonical.exif), {}
    for asset in replaced:
        for key, value in sorted(asset.exif.items()):
            if key not in merged:
                merged[key] = value
                provenance.setdefault(key, {"kept": value, "from_asset": asset.pk})
            elif merged[key] != value:
                entry = provenance.setdefault(
                    key, {"kept": merged[key], "from_asset": canonical.pk}
                )
                entry.setdefault("alternatives", []).append({"value": value, "asset": asset.pk})
    return merged, provenance


def _entries_repoint(canonical: Asset, replaced: list[Asset], actor) -> list[dict]:
    moved = []
    entries = CatalogueEntry.objects.filter(asset__in=replaced).order_by("pk")
    for entry in entries.select_for_update(no_key=True):
        moved.append({"entry": entry.pk, "from_asset": entry.asset_id})
        audit_record(
            actor=actor,
            verb="entry.repointed",
            obj=entry,
            before={"asset": entry.asset_id},
            after={"asset": canonical.pk},
        )
    entries.update(asset=canonical)
    return moved


def _provenance(canonical, replaced, exif_provenance, moved) -> dict:
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


@hold_refusals_audited()
@transaction.atomic
def consolidation_execute(
    *,
    canonical: Asset,
    replaced: list[Asset],
    candidates: list[DuplicateCandidate],
    actor,
    reason: str = "",
) -> Consolidation:
    """Consolidate replaced assets into canonical; every step audited, all or nothing."""
    canonical, replaced = _lock_group(canonical, replaced)
    _guard(canonical, replaced, actor)
    snapshot = {"canonical_exif": canonical.exif}
    merged, exif_provenance = _exif_merge(canonical, replaced)
    moved = _entries_repoint(canonical, replaced, actor)
    snapshot["entries"] = moved
    canonical.exif = merged
    canonical.save(update_fields=["exif"])
    consolidation = Consolidation.objects.create(
        canonical=canonical,
        provenance=_provenance(canonical, replaced, exif_provenance, moved),
        snapshot=snapshot,
        reason=reason,
        created_by=actor,
    )
    consolidation.replaced.set(replaced)
    consolidation.candidates.set(candidates)
    for asset in replaced:
        asset.replaced_by = canonical
        asset.save(update_fields=["replaced_by"])
        asset_quarantine(
            asset=asset,
            actor=actor,
            reason=f"replaced by asset {canonical.pk} (consolidation {consolidation.pk})",
        )
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


def consolidation_undo_deadline(consolidation: Consolidation):
    return consolidation.created_at + timedelta(days=settings.KEEPSAKE_RESTORE_WINDOW_DAYS)


@transaction.atomic
def consolidation_undo(*, consolidation: Consolidation, actor, reason: str = "") -> None:
    """Put back entries, metadata and assets exactly as they were before consolidation."""
    if actor is None or not actor.has_perm("dedup.review_duplicates"):
        raise ArchiveError(
            "Undoing a consolidation needs the review permission.", code="permission_denied"
        )
    consolidation = Consolidation.objects.select_for_update(no_key=True).get(pk=consolidation.pk)
    if consolidation.undone_at is not None:
        raise ArchiveError("This consolidation was already undone.", code="conflict")
    if timezone.now() > consolidation_undo_deadline(consolidation):
        raise ArchiveError("The restore window of this consolidation has closed.", code="conflict")
    canonical = Asset.objects.select_for_update(no_key=True).get(pk=consolidation.canonical_id)
    for moved in consolidation.snapshot["entries"]:
        CatalogueEntry.objects.filter(pk=moved["entry"]).update(asset=moved["from_asset"])
    canonical.exif = consolidation.snapshot["canonical_exif"]
    canonical.save(update_fields=["exif"])
    for asset in consolidation.replaced.order_by("pk"):
        asset_restore(asset=asset, actor=actor, reason=f"undo of consolidation {consolidation.pk}")
        Asset.objects.filter(pk=asset.pk).update(replaced_by=None)
    consolidation.candidates.update(
        status=DuplicateCandidate.Status.PENDING, decided_by=None, decided_at=None
    )
    consolidation.undone_at, consolidation.undone_by = timezone.now(), actor
    consolidation.save(update_fields=["undone_at", "undone_by"])
    audit_record(
        actor=actor,
        verb="consolidation.undone",
        obj=consolidation,
        reason=reason,
        after={"entries_restored": len(consolidation.snapshot["entries"])},
    )
