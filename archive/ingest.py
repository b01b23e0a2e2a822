"""Ingest: store each distinct file once, by content, and give it a catalogue entry.

Ingest runs in two steps. `ingest_analyse` reads and decodes the file (digest, probe, and
whatever the child apps compute from it through the `hooks.asset_analysers`, such as
fingerprints); it touches no database, so the ingest command runs it in worker processes.
`asset_ingest` then stores the bytes and writes the records in one transaction, and once
it committed runs the `hooks.asset_stored` (the near-duplicate lookup and judgement),
which decode files and so must not run while the transaction holds its locks.
"""

import os
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from archive import hooks
from archive.actors import actor_user
from archive.audit import audit_record, audited
from archive.errors import InvalidImage
from archive.files import printable_path, regular_file_open
from archive.imaging import ImageProbe, probe_image
from archive.intake import gated, intake_flag, intake_hold, intake_matches
from archive.lifecycle import Transition, asset_create, asset_lock, asset_transition
from archive.models import Asset, AssetSource, CatalogueEntry, Collection, IngestRejection
from archive.services import entry_snapshot
from archive.storage import bytes_store, content_key, digest_file


@dataclass(frozen=True)
class IngestAnalysis:
    """What reading the file revealed; picklable, so worker processes can compute it."""

    sha256: str
    size: int
    probe: ImageProbe | None = None
    error: str = ""
    extras: dict = field(default_factory=dict)


def ingest_digest(*, fp: BinaryIO) -> IngestAnalysis:
    """The cheap first look: content digest and size only."""
    sha256, size = digest_file(fp)
    return IngestAnalysis(sha256=sha256, size=size)


def ingest_analyse(*, fp: BinaryIO, digest: IngestAnalysis | None = None) -> IngestAnalysis:
    """Digest, probe and let child apps analyse the file; no database access."""
    digest = digest or ingest_digest(fp=fp)
    try:
        probe = probe_image(fp=fp)
    except InvalidImage as exc:
        return IngestAnalysis(digest.sha256, digest.size, error=exc.message)
    extras = {}
    for analyser in hooks.asset_analysers:
        fp.seek(0)
        extras.update(analyser(fp=fp, probe=probe) or {})
    return IngestAnalysis(digest.sha256, digest.size, probe=probe, extras=extras)


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
    HELD = "held"  # looks like an asset already held: waits at the intake gate


@dataclass(frozen=True)
class IngestOutcome:
    status: IngestStatus
    path: str
    asset: Asset | None = None
    entry: CatalogueEntry | None = None
    reason: str = ""
    # What child apps reported at ingest, e.g. {"possible_duplicates": [asset ids]}.
    findings: dict = field(default_factory=dict)


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


def _filename(path: str) -> str:
    """The file's name for titles and downloads; a path ending in a separator keeps its last
    folder's name, and a name that is only separators becomes "untitled"."""
    name = os.path.basename(path.rstrip("/\\")) or path.strip("/\\ ")
    return name[:255] or "untitled"


def _entry_build(
    *, collection: Collection, path: str, metadata: EntryMetadata, published: bool
) -> CatalogueEntry:
    publish = metadata.published if metadata.published is not None else published
    entry = CatalogueEntry(
        collection=collection,
        title=metadata.title or _filename(path),
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
    """Give the locked, live asset this source and entry (reactivating it if it was going)."""
    source, created = AssetSource.objects.get_or_create(
        asset=asset, collection=collection, path=path, defaults={"ingested_by": actor_user(actor)}
    )
    if not created:
        return IngestStatus.UNCHANGED
    reason = "bytes already held; no second copy stored"
    if asset.state == Asset.State.QUARANTINED:
        # A new record needs these bytes: the quarantine (and any replacement) ends, so
        # nothing decided before can purge what this record points at.
        asset_transition(
            asset=asset,
            transition=Transition.RESTORE,
            actor=actor,
            reason=f"bytes ingested again from {collection.name}: {path}",
        )
    changes = {}
    if asset.replaced_by_id is not None:
        # Replaced but kept active (a hold stopped its quarantine): the new record keeps it
        # in use, so the replacement ends rather than quarantining the record with it.
        changes["replaced_by"] = None
    asset_transition(
        asset=asset,
        transition=Transition.ATTACH,
        actor=actor,
        reason=reason,
        changes=changes,
        after={"collection": collection.name, "path": path},
    )
    _entry_attach(entry=entry, asset=asset, source=source, actor=actor)
    return IngestStatus.ATTACHED


def _attach_existing(
    *, sha256: str, collection: Collection, path: str, entry: CatalogueEntry, actor
) -> tuple[IngestStatus, Asset] | None:
    """Attach to the live asset holding sha256, or None when none does (store anew).

    The asset is looked up, then locked, then its state is read again inside the lock: a
    purge committing in between turns it into a tombstone, and this ingest then stores
    the bytes anew instead of pointing a record at bytes nobody keeps.
    """
    with audited():
        found = (
            Asset.objects.holding_bytes().filter(sha256=sha256).values_list("pk", flat=True).first()
        )
        if found is None:
            return None
        asset = asset_lock(found)
        if asset.state == Asset.State.PURGED:
            return None
        status = _source_attach(
            asset=asset, collection=collection, path=path, entry=entry, actor=actor
        )
        return status, asset


@audited
def _asset_create(
    *,
    analysis: IngestAnalysis,
    key: str,
    collection: Collection,
    path: str,
    entry: CatalogueEntry,
    actor,
) -> tuple[IngestStatus, Asset]:
    probe = analysis.probe
    asset = Asset(
        sha256=analysis.sha256,
        size=analysis.size,
        format=probe.format,
        width=probe.width,
        height=probe.height,
        colour_mode=probe.mode,
        frame_count=probe.frames,
        storage_alias=Asset.Tier.HOT,
        storage_key=key,
        collection=collection,
        original_path=path,
        original_filename=_filename(path),
        ingested_by=actor_user(actor),
        exif=probe.exif,
    )
    asset.full_clean(validate_constraints=False)
    try:
        # A concurrent ingest of the same bytes may win the race; the partial unique
        # constraint on sha256 tells, and this ingest then attaches to its asset.
        with transaction.atomic():
            asset_create(asset=asset, actor=actor, after=_asset_snapshot(asset))
    except IntegrityError:
        attached = _attach_existing(
            sha256=analysis.sha256, collection=collection, path=path, entry=entry, actor=actor
        )
        if attached is None:
            raise
        return attached
    source = AssetSource.objects.create(
        asset=asset, collection=collection, path=path, ingested_by=actor_user(actor)
    )
    _entry_attach(entry=entry, asset=asset, source=source, actor=actor)
    return IngestStatus.NEW, asset


@audited
def ingest_rejection_record(
    *,
    collection: Collection,
    path: str,
    reason: str,
    actor,
    size: int | None = None,
    sha256: str = "",
) -> IngestRejection:
    """Record why a file was refused; the file itself is left where it was.

    The same refusal of the same file (path, reason and bytes) is recorded once: running
    an ingest again over a tree reports it again but does not file it twice.
    """
    known = IngestRejection.objects.filter(
        collection=collection, path=path, reason=reason, sha256=sha256
    ).first()
    if known is not None:
        return known
    rejection = IngestRejection.objects.create(
        collection=collection,
        path=path,
        reason=reason,
        size=size,
        sha256=sha256,
        rejected_by=actor_user(actor),
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


def _findings(*, asset: Asset, analysis: IngestAnalysis, background: bool, actor) -> dict:
    # Run after the asset's transaction committed: the hooks judge pairs by decoding files.
    findings = {}
    for hook in hooks.asset_stored:
        findings.update(
            hook(asset=asset, analysis=analysis, background=background, actor=actor) or {}
        )
    return findings


def _gate_hold(*, fp, analysis, collection, path, metadata, published, via, actor):
    matches = gated(intake_matches(fp=fp, analysis=analysis))
    if not matches:
        return None
    item = intake_hold(
        fp=fp,
        analysis=analysis,
        collection=collection,
        path=path,
        metadata=metadata,
        published=published,
        matches=matches,
        via=via,
        actor=actor,
    )
    best = matches[0]
    reason = (
        f"held at the intake gate: looks like asset {best['asset']} ({best['kind']}: "
        f"{best['reason']}); a curator decides (intake item {item.pk})"
    )
    return IngestOutcome(
        IngestStatus.HELD,
        path,
        reason=reason,
        findings={"intake_item": item.pk, "matches": matches},
    )


def _gate_flag(*, asset, path, findings, via, actor) -> None:
    matches = findings.get("possible_duplicate_matches") or [
        {"asset": other, "kind": "", "reason": "", "phash_distance": 0}
        for other in findings.get("possible_duplicates", [])
    ]
    if matches:
        intake_flag(asset=asset, path=path, matches=matches, via=via, actor=actor)


def asset_ingest(
    *,
    fp: BinaryIO,
    path: str,
    collection: Collection,
    actor=None,
    metadata: EntryMetadata | None = None,
    published: bool = False,
    background: bool = True,
    analysis: IngestAnalysis | None = None,
    gate: bool = True,
    via: str = "ingest",
    hold_copies: bool = False,
) -> IngestOutcome:
    """Store the bytes in fp once, by content, and give them a catalogue entry.

    Bytes already held are not stored again: the existing asset gains this source and a
    new entry. Files that are not storable images are recorded as rejections. An analysis
    computed earlier (in a worker process) saves reading the file again; background says
    whether follow-up work may be queued rather than done now. Where the collection holds
    copies at its intake gate (and gate is true), a file judged a copy of an asset already
    held is staged for a curator instead (status HELD); hold_copies stages such a file
    whatever the policy (the web upload asks its uploader); via says where it came from.
    """
    digest = analysis or ingest_digest(fp=fp)
    limit = Asset._meta.get_field("original_path").max_length
    if len(path) > limit:
        reason = f"path longer than {limit} characters; not stored"
        return _rejected(
            collection=collection, path=path[:limit], reason=reason, actor=actor, size=digest.size
        )
    try:
        entry = _entry_build(
            collection=collection,
            path=path,
            metadata=metadata or EntryMetadata(),
            published=published,
        )
    except ValidationError as exc:
        reason = "invalid metadata: " + "; ".join(exc.messages)
        return _rejected(
            collection=collection, path=path, reason=reason, actor=actor, size=digest.size
        )
    attached = _attach_existing(
        sha256=digest.sha256, collection=collection, path=path, entry=entry, actor=actor
    )
    if attached is not None:
        status, existing = attached
        return IngestOutcome(status, path, asset=existing, entry=entry if entry.pk else None)
    if analysis is None or (analysis.probe is None and not analysis.error):
        analysis = ingest_analyse(fp=fp, digest=digest)
    if analysis.error:
        return _rejected(
            collection=collection,
            path=path,
            reason=analysis.error,
            actor=actor,
            size=analysis.size,
            sha256=analysis.sha256 if analysis.size else "",
        )
    holding = hold_copies or collection.intake_policy == Collection.IntakePolicy.HOLD
    if gate and holding:
        held = _gate_hold(
            fp=fp,
            analysis=analysis,
            collection=collection,
            path=path,
            metadata=metadata or EntryMetadata(),
            published=published,
            via=via,
            actor=actor,
        )
        if held is not None:
            return held
    key = bytes_store(
        fp=fp,
        alias=Asset.Tier.HOT,
        key=content_key(sha256=analysis.sha256, image_format=analysis.probe.format),
        sha256=analysis.sha256,
    )
    with transaction.atomic():
        status, asset = _asset_create(
            analysis=analysis,
            key=key,
            collection=collection,
            path=path,
            entry=entry,
            actor=actor,
        )
    findings = {}
    if status == IngestStatus.NEW:
        findings = _findings(asset=asset, analysis=analysis, background=background, actor=actor)
        if collection.intake_policy == Collection.IntakePolicy.ADMIT_FLAG and gate:
            _gate_flag(asset=asset, path=path, findings=findings, via=via, actor=actor)
    return IngestOutcome(
        status, path, asset=asset, entry=entry if entry.pk else None, findings=findings
    )


def asset_ingest_path(
    *,
    path: str,
    collection: Collection,
    actor=None,
    metadata: EntryMetadata | None = None,
    published: bool = False,
    background: bool = True,
    analysis: IngestAnalysis | None = None,
) -> IngestOutcome:
    """Ingest one file from the filesystem, recording unreadable files as rejections.

    Only a regular file is read (never a FIFO, device or final symlink); the path is
    recorded in printable form (bytes that are not UTF-8 as \\xNN).
    """
    shown = printable_path(path)
    try:
        fp = regular_file_open(path)
    except OSError as exc:
        reason = f"unreadable file: {exc.strerror or exc}"
        return _rejected(collection=collection, path=shown, reason=reason, actor=actor)
    path = shown
    with fp:
        return asset_ingest(
            fp=fp,
            path=path,
            collection=collection,
            actor=actor,
            metadata=metadata,
            published=published,
            background=background,
            analysis=analysis,
        )
