"""What a release publishes: the files of some collections, their records and licences."""

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings

from archive.licensing import licence_flags, licence_terms
from archive.models import Asset, CatalogueEntry, Collection, Licence
from archive.storage import EXTENSIONS

# Licence types whose terms let anyone redistribute the file (some with conditions the
# crate states: attribution, share-alike, non-commercial, no derivatives).
REUSE_LICENCES = (
    "cc0",
    "public_domain",
    "cc_by",
    "cc_by_sa",
    "cc_by_nc",
    "cc_by_nc_sa",
    "cc_by_nd",
    "cc_by_nc_nd",
)
RECORD_FIELDS = ("title", "description", "accession_number", "creator", "subjects")


def reuse_licences() -> tuple[str, ...]:
    return tuple(getattr(settings, "KEEPSAKE_RELEASE_REUSE_LICENCES", REUSE_LICENCES))


@dataclass(frozen=True)
class Selection:
    items: list[dict]
    left_out: list[dict]


def _safe_name(asset: Asset) -> str:
    stem = asset.original_filename.rsplit(".", 1)[0] if "." in asset.original_filename else ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem or asset.original_filename).strip("._")[:80]
    extension = EXTENSIONS.get(asset.format, f".{asset.format.lower() or 'bin'}")
    return f"{asset.pk}-{stem or 'file'}{extension}"


def _licence_json(licence: Licence) -> dict:
    return {"id": licence.pk, **licence_terms(licence)}


def _refusal(entry: CatalogueEntry, on: dt.date) -> str:
    """Why the record's licences do not allow reuse on day on, or "" when they do."""
    licences = sorted(entry.licences.all(), key=lambda licence: licence.pk)
    if not licences:
        return "no licence recorded"
    allowed = reuse_licences()
    for licence in licences:
        if licence.licence_type not in allowed:
            return f"licence {licence.get_licence_type_display()} does not allow reuse"
        flags = licence_flags(licence=licence, on=on)
        if "expired" in flags:
            return f"licence {licence.get_licence_type_display()} expired on {licence.valid_until}"
        if "not_yet_valid" in flags:
            return (
                f"licence {licence.get_licence_type_display()} valid only from {licence.valid_from}"
            )
        if "restricted" in flags:
            return f"usage restrictions recorded: {licence.restrictions.strip()}"
    return ""


def _record_json(entry: CatalogueEntry) -> dict:
    record = {name: getattr(entry, name) for name in RECORD_FIELDS}
    record.update(
        entry=entry.pk,
        collection=entry.collection.name,
        date_start=entry.date_start.isoformat() if entry.date_start else None,
        date_end=entry.date_end.isoformat() if entry.date_end else None,
        licences=[_licence_json(licence) for licence in entry.licences.all()],
    )
    return record


def _replaces_by_canonical(assets) -> dict[int, list[dict]]:
    """For each of assets (a queryset), the files consolidations in force folded into it."""
    # dedup.models is imported here: this module is imported by the model's app config.
    from dedup.models import Consolidation

    replaced: dict[int, list[dict]] = {}
    into = Consolidation.objects.filter(canonical__in=assets, undone_at__isnull=True)
    for consolidation in into.order_by("pk"):
        for row in consolidation.provenance.get("replaced", []):
            replaced.setdefault(consolidation.canonical_id, []).append(
                {
                    "asset": row["asset"],
                    "sha256": row["sha256"],
                    "original_path": row["original_path"],
                    "consolidation": consolidation.pk,
                }
            )
    return replaced


def _item(asset: Asset, records: list[dict], replaces: list[dict]) -> dict:
    path = f"files/{_safe_name(asset)}"
    metadata = {
        "asset": asset.pk,
        "sha256": asset.sha256,
        "size": asset.size,
        "format": asset.format,
        "width": asset.width,
        "height": asset.height,
        "file": path,
        "records": records,
        "replaces": replaces,
        "exif": asset.exif,
    }
    return {
        "asset": asset.pk,
        "sha256": asset.sha256,
        "size": asset.size,
        "path": path,
        "metadata": metadata,
    }


def _left(entry: CatalogueEntry, reason: str) -> dict:
    return {
        "entry": entry.pk,
        "title": entry.title,
        "asset": entry.asset_id,
        "collection": entry.collection.name,
        "reason": reason,
    }


def _records_elsewhere(selected, collections) -> dict[int, list[CatalogueEntry]]:
    """The records of the selected files that belong to other collections, by asset."""
    others = (
        CatalogueEntry.objects.filter(asset__in=selected.values("asset_id"))
        .exclude(collection__in=collections)
        .prefetch_related("licences")
        .order_by("pk")
    )
    by_asset: dict[int, list[CatalogueEntry]] = {}
    for entry in others:
        by_asset.setdefault(entry.asset_id, []).append(entry)
    return by_asset


def release_select(*, collections: list[Collection], on: dt.date) -> Selection:
    """The files a release of collections publishes on day on, and the records left out."""
    selected = CatalogueEntry.objects.filter(collection__in=collections)
    entries = (
        selected.select_related("asset", "collection")
        .prefetch_related("licences")
        .order_by("asset_id", "pk")
    )
    by_asset: dict[int, list[CatalogueEntry]] = {}
    for entry in entries:
        by_asset.setdefault(entry.asset_id, []).append(entry)
    # Every record of these bytes counts, in the selected collections or not: one record
    # that does not allow reuse keeps the file out.
    elsewhere = _records_elsewhere(selected, collections)
    replaces = _replaces_by_canonical(selected.values("asset_id"))
    items, left_out = [], []
    for asset_id, entries_of in by_asset.items():
        asset = entries_of[0].asset
        if asset.state != Asset.State.ACTIVE or asset.replaced_by_id is not None:
            left_out += [
                _left(e, f"its file is {asset.get_state_display().lower()}") for e in entries_of
            ]
            continue
        refusals = {e.pk: _refusal(e, on) for e in [*entries_of, *elsewhere.get(asset_id, [])]}
        blocking = {pk: why for pk, why in refusals.items() if why}
        if not blocking:
            records = [_record_json(e) for e in entries_of]
            items.append(_item(asset, records, replaces.get(asset_id, [])))
            continue
        for entry in entries_of:
            why = blocking.get(entry.pk)
            if why is None:
                pk, other = min(blocking.items())
                why = f"another record of the same file (entry {pk}) is left out: {other}"
            left_out.append(_left(entry, why))
    items.sort(key=lambda item: item["path"])
    left_out.sort(key=lambda row: row["entry"])
    return Selection(items=items, left_out=left_out)
