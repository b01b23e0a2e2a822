"""Writes to the archive records; every state change is audited in its own transaction."""

import os
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from archive import signals
from archive.audit import audit_record
from archive.errors import ArchiveError, InvalidImage
from archive.imaging import probe_image
from archive.models import (
    Asset,
    AssetSource,
    CatalogueEntry,
    Collection,
    IngestRejection,
)
from archive.storage import bytes_store, content_key, digest_file


@dataclass(frozen=True)
class EntryMetadata:
    """Descriptive fields for the catalogue entry an ingested file receives."""

    title: str = ""
    description: str = ""
    accession_number: str = ""
    creator: str = ""
    date_start: date | None = None
    date_end: date | None = None
    subjects: list[str] = field(default_factory=list)
    published: bool | None = None


class IngestStatus(StrEnum):
    NEW = "new"  # new bytes stored, new asset
    ATTACHED = "attached"  # bytes already held; a new source and entry point at that asset
    UNCHANGED = "unchanged"  # this very source was ingested before; nothing to do
    REJECTED = "rejected"  # not stored; the reason is recorded


@dataclass(frozen=True)
class IngestOutcome:
    status: IngestStatus
    path: str
    asset: Asset | None = None
    entry: CatalogueEntry | None = None
    reason: str = ""


def _asset_snapshot(asset: Asset) -> dict:
    return {
        "sha256": asset.sha256,
        "size": asset.size,
        "format": asset.format,
        "width": asset.width,
        "height": asset.height,
        "state": asset.state,
        "role": asset.role,
        "storage": f"{asset.storage_alias}:{asset.storage_key}",
        "collection": asset.collection.name,
        "original_path": asset.original_path,
    }


def entry_snapshot(entry: CatalogueEntry) -> dict:
    return {
        "asset": entry.asset_id,
        "collection": entry.collection_id,
        "title": entry.title,
        "description": entry.description,
        "accession_number": entry.accession_number,
        "creator": entry.creator,
        "date_start": entry.date_start,
        "date_end": entry.date_end,
        "subjects": entry.subjects,
        "published": entry.published,
        "published_at": entry.published_at,
        "published_sha256": entry.published_sha256,
    }


@transaction.atomic
def collection_get_or_create(*, name: str, actor=None) -> Collection:
    """Return the collection called name, creating (and auditing) it when new."""
    name = name.strip()
    if not name:
        raise ArchiveError("A collection needs a name.")
    collection, created = Collection.objects.get_or_create(name=name)
    if created:
        audit_record(actor=actor, verb="collection.created", obj=collection, after={"name": name})
    return collection


def _entry_build(
    *, collection: Collection, path: str, metadata: EntryMetadata, published: bool
) -> CatalogueEntry:
    publish = metadata.published if metadata.published is not None else published
    entry = CatalogueEntry(
        collection=collection,
        title=metadata.title or os.path.basename(path),
        description=metadata.description,
        accession_number=metadata.accession_number,
        creator=metadata.creator,
        date_start=metadata.date_start,
        date_end=metadata.date_end,
        subjects=list(metadata.subjects),
        published=publish,
    )
    # Validate the descriptive fields before any byte is stored; the asset comes later.
    entry.full_clean(exclude=["asset", "source", "published_at", "published_sha256"])
    return entry


def _entry_attach(*, entry: CatalogueEntry, asset: Asset, source: AssetSource, actor) -> None:
    entry.asset, entry.source = asset, source
    if entry.published:
        entry.published_at = timezone.now()
        entry.published_sha256 = asset.sha256
    entry.full_clean()
    entry.save()
    audit_record(actor=actor, verb="entry.created", obj=entry, after=entry_snapshot(entry))


def _source_attach(
    *, asset: Asset, collection: Collection, path: str, entry: CatalogueEntry, actor
) -> IngestStatus:
    source, created = AssetSource.objects.get_or_create(
        asset=asset, collection=collection, path=path, defaults={"ingested_by": actor}
    )
    if not created:
        return IngestStatus.UNCHANGED
    audit_record(
        actor=actor,
        verb="asset.source_attached",
        obj=asset,
        after={"collection": collection.name, "path": path},
        reason="bytes already held; no second copy stored",
    )
    _entry_attach(entry=entry, asset=asset, source=source, actor=actor)
    return IngestStatus.ATTACHED


@transaction.atomic
def _asset_create(
    *,
    probe,
    sha256: str,
    size: int,
    key: str,
    collection: Collection,
    path: str,
    entry: CatalogueEntry,
    actor,
) -> tuple[IngestStatus, Asset]:
    asset = Asset(
        sha256=sha256,
        size=size,
        format=probe.format,
        width=probe.width,
        height=probe.height,
        colour_mode=probe.mode,
        frame_count=probe.frames,
        storage_alias=Asset.Tier.HOT,
        storage_key=key,
        collection=collection,
        original_path=path,
        original_filename=os.path.basename(path),
        ingested_by=actor,
        exif=probe.exif,
    )
    asset.full_clean(validate_constraints=False)
    try:
        # A concurrent ingest of the same bytes may win the race; the partial unique
        # constraint on sha256 tells, and this ingest then attaches to its asset.
        with transaction.atomic():
            asset.save()
    except IntegrityError:
        asset = Asset.objects.holding_bytes().get(sha256=sha256)
        status = _source_attach(
            asset=asset, collection=collection, path=path, entry=entry, actor=actor
        )
        return status, asset
    audit_record(actor=actor, verb="asset.ingested", obj=asset, after=_asset_snapshot(asset))
    source = AssetSource.objects.create(
        asset=asset, collection=collection, path=path, ingested_by=actor
    )
    _entry_attach(entry=entry, asset=asset, source=source, actor=actor)
    return IngestStatus.NEW, asset


@transaction.atomic
def ingest_rejection_record(
    *,
    collection: Collection,
    path: str,
    reason: str,
    actor,
    size: int | None = None,
    sha256: str = "",
) -> IngestRejection:
    """Record why a file was refused; the file itself is left where it was."""
    rejection = IngestRejection.objects.create(
        collection=collection,
        path=path,
        reason=reason,
        size=size,
        sha256=sha256,
        rejected_by=actor,
    )
    audit_record(
        actor=actor,
        verb="asset.ingest_rejected",
        obj=rejection,
        after={"collection": collection.name, "path": path, "size": size, "sha256": sha256},
        reason=reason,
    )
    return rejection


def _rejected(*, collection, path, reason, actor, size=None, sha256="") -> IngestOutcome:
    ingest_rejection_record(
        collection=collection, path=path, reason=reason, actor=actor, size=size, sha256=sha256
    )
    return IngestOutcome(IngestStatus.REJECTED, path, reason=reason)


def asset_ingest(
    *,
    fp: BinaryIO,
    path: str,
    collection: Collection,
    actor=None,
    metadata: EntryMetadata | None = None,
    published: bool = False,
    background: bool = True,
) -> IngestOutcome:
    """Store the bytes in fp once, by content, and give them a catalogue entry.

    Bytes already held are not stored again: the existing asset gains this source and a
    new entry. Files that are not storable images are recorded as rejections. With
    background=False the caller does the follow-up work (fingerprinting) itself.
    """
    sha256, size = digest_file(fp)
    try:
        entry = _entry_build(
            collection=collection,
            path=path,
            metadata=metadata or EntryMetadata(),
            published=published,
        )
    except ValidationError as exc:
        reason = "invalid metadata: " + "; ".join(exc.messages)
        return _rejected(collection=collection, path=path, reason=reason, actor=actor, size=size)
    existing = Asset.objects.holding_bytes().filter(sha256=sha256).first()
    if existing is not None:
        with transaction.atomic():
            status = _source_attach(
                asset=existing, collection=collection, path=path, entry=entry, actor=actor
            )
        return IngestOutcome(status, path, asset=existing, entry=entry if entry.pk else None)
    try:
        probe = probe_image(fp=fp)
    except InvalidImage as exc:
        return _rejected(
            collection=collection,
            path=path,
            reason=exc.message,
            actor=actor,
            size=size,
            sha256=sha256 if size else "",
        )
    key = bytes_store(
        fp=fp,
        alias=Asset.Tier.HOT,
        key=content_key(sha256=sha256, image_format=probe.format),
        sha256=sha256,
    )
    status, asset = _asset_create(
        probe=probe,
        sha256=sha256,
        size=size,
        key=key,
        collection=collection,
        path=path,
        entry=entry,
        actor=actor,
    )
    if status == IngestStatus.NEW:
        transaction.on_commit(
            lambda: signals.asset_ingested.send(
                sender=Asset, asset=asset, in_process=not background
            )
        )
    return IngestOutcome(status, path, asset=asset, entry=entry if entry.pk else None)


def asset_ingest_path(
    *,
    path: str,
    collection: Collection,
    actor=None,
    metadata: EntryMetadata | None = None,
    published: bool = False,
    background: bool = True,
) -> IngestOutcome:
    """Ingest one file from the filesystem, recording unreadable files as rejections."""
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below; only opening errors mean "unreadable"
    except OSError as exc:
        reason = f"unreadable file: {exc.strerror or exc}"
        return _rejected(collection=collection, path=path, reason=reason, actor=actor)
    with fp:
        return asset_ingest(
            fp=fp,
            path=path,
            collection=collection,
            actor=actor,
            metadata=metadata,
            published=published,
            background=background,
        )


def _field_values(obj) -> dict:
    return {
        f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname != "id"
    }


@transaction.atomic
def record_save(*, obj, actor, reason: str = ""):
    """Validate and save a descriptive record (entry, licence, hold) with its audit event."""
    model = type(obj)
    before = None
    if obj.pk is not None:
        before = _field_values(model.objects.select_for_update(no_key=True).get(pk=obj.pk))
    obj.full_clean()
    obj.save()
    after = _field_values(obj)
    changed = {k: v for k, v in after.items() if before is None or before.get(k) != v}
    if before is not None and not changed:
        return obj
    verb = f"{model._meta.model_name}.{'created' if before is None else 'changed'}"
    audit_record(
        actor=actor,
        verb=verb,
        obj=obj,
        before={k: before[k] for k in changed} if before else None,
        after=changed,
        reason=reason,
    )
    return obj


@transaction.atomic
def legal_hold_scope_record(*, hold, actor):
    """Audit the assets, entries and collections a hold covers after they were set."""
    audit_record(
        actor=actor,
        verb="legalhold.scope_set",
        obj=hold,
        after={
            "assets": sorted(hold.assets.values_list("pk", flat=True)),
            "entries": sorted(hold.entries.values_list("pk", flat=True)),
            "collections": sorted(hold.collections.values_list("pk", flat=True)),
        },
    )
