"""The intake gate: a new file judged a copy of an asset already held can wait for a curator.

A collection's intake policy says what happens when a new file (new bytes: exact copies
are never stored twice, whatever the policy) is judged a pixel twin or a derivative of an
asset the archive holds:

- ``admit``: stored at once; the pair enters the review queue (the default);
- ``admit_flag``: stored at once, and an intake item records the match, so the intake
  queue shows curators what came in looking like something held;
- ``hold``: the file waits at the gate, its bytes staged apart from the archive's, until
  a curator chooses "use the existing record", "add as another record of the existing
  asset" or "store anyway".

The web upload asks the same question of the person uploading (Wagtail-style), whatever
the policy: an upload that looks like something held is staged and they choose.

Who judges is the child app that keeps fingerprints (dedup), through
`hooks.intake_judges`; the archive only keeps the items and carries out the choices.
Every choice is audited; a decision claims its item first (status "deciding") so two
curators cannot carry out different choices, and a decision cut short is finished by
deciding again with the same choice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from archive import hooks
from archive.actors import SYSTEM, actor_require, actor_user
from archive.audit import after_audited, audit_record, audited
from archive.errors import ArchiveError
from archive.faults import crash_point
from archive.lifecycle import asset_lock
from archive.models import Asset, Collection, IntakeItem
from archive.storage import EXTENSIONS, bytes_open, bytes_store

# The kinds that hold a file at the gate: the same picture (pixel twin) or a copy made
# from it (derivative). Look-alikes ("similar") are different photographs: admitted.
GATED_KINDS = frozenset({"pixel", "derivative"})
STAGING_ALIAS = Asset.Tier.HOT
DECIDE_PERMISSION = "archive.decide_intakeitem"

Choice = IntakeItem.Choice


def staging_key(*, sha256: str, image_format: str) -> str:
    """A staging key of this upload's own: identical uploads held at once never share one,
    so a decision on one can never delete the bytes another is still staging. (Items
    staged before keys were per upload may share theirs; _staged_release still checks.)"""
    extension = EXTENSIONS.get(image_format, f".{image_format.lower() or 'bin'}")
    return f"intake/{sha256[:2]}/{sha256}-{secrets.token_hex(8)}{extension}"


def intake_matches(*, fp: BinaryIO, analysis) -> list[dict]:
    """What the judges say this not yet stored file is a copy of, best match first.

    Each match is {"asset": id, "kind": ..., "reason": ..., "phash_distance": n}.
    """
    matches: list[dict] = []
    for judge in hooks.intake_judges:
        fp.seek(0)
        matches.extend(judge(fp=fp, analysis=analysis) or [])
    fp.seek(0)
    order = {"pixel": 0, "derivative": 1, "similar": 2}
    return sorted(matches, key=lambda m: (order.get(m["kind"], 3), m["phash_distance"]))


def gated(matches: list[dict]) -> list[dict]:
    """The matches that hold a file at a `hold` gate."""
    return [m for m in matches if m["kind"] in GATED_KINDS]


def _metadata_snapshot(metadata, published: bool) -> dict:
    fields = {
        "title": metadata.title,
        "description": metadata.description,
        "accession_number": metadata.accession_number,
        "creator": metadata.creator,
        "date_start": metadata.date_start.isoformat() if metadata.date_start else None,
        "date_end": metadata.date_end.isoformat() if metadata.date_end else None,
        "subjects": list(metadata.subjects),
    }
    return {"metadata": fields, "published": published}


def _item_snapshot(item: IntakeItem) -> dict:
    return {
        "collection": item.collection.name,
        "path": item.path,
        "sha256": item.sha256,
        "size": item.size,
        "status": item.status,
        "matches": item.matches,
        "staged": f"{item.staged_alias}:{item.staged_key}" if item.staged_key else "",
    }


@audited
def _item_create(**fields) -> IntakeItem:
    item = IntakeItem(**fields)
    item.full_clean()
    item.save()
    verb = "intake.flagged" if item.status == IntakeItem.Status.FLAGGED else "intake.held"
    audit_record(actor=fields.get("created_by"), verb=verb, obj=item, after=_item_snapshot(item))
    return item


def intake_hold(
    *,
    fp: BinaryIO,
    analysis,
    collection: Collection,
    path: str,
    metadata,
    published: bool,
    matches: list[dict],
    via: str,
    actor,
) -> IntakeItem:
    """Stage the file's bytes apart from the archive's and queue it for a curator.

    The bytes are written (and verified) before the item exists, so an item never points
    at bytes that are not there; a crash in between leaves only a staged file.
    """
    probe = analysis.probe
    key = bytes_store(
        fp=fp,
        alias=STAGING_ALIAS,
        key=staging_key(sha256=analysis.sha256, image_format=probe.format),
        sha256=analysis.sha256,
    )
    crash_point("intake.staged")
    item = _item_create(
        collection=collection,
        path=path,
        sha256=analysis.sha256,
        size=analysis.size,
        format=probe.format,
        width=probe.width,
        height=probe.height,
        staged_alias=STAGING_ALIAS,
        staged_key=key,
        entry_fields=_metadata_snapshot(metadata, published),
        matches=matches,
        status=IntakeItem.Status.WAITING,
        via=via,
        # Held by the collection's policy (not only asked at the web prompt): the curators'
        # decision, whatever the policy says by the time it is made.
        curators_decide=collection.intake_policy == Collection.IntakePolicy.HOLD,
        created_by=actor_user(actor),
    )
    # The same bytes staged for another upload may have been released (its decision ran)
    # between our write and our item: now that the item exists they are kept; put back.
    if not storages[STAGING_ALIAS].exists(key):
        fp.seek(0)
        bytes_store(fp=fp, alias=STAGING_ALIAS, key=key, sha256=analysis.sha256)
    return item


def intake_flag(*, asset: Asset, path: str, matches: list[dict], via: str, actor) -> IntakeItem:
    """Record that an admitted asset looked like something held (policy admit_flag)."""
    return _item_create(
        collection=asset.collection,
        path=path,
        sha256=asset.sha256,
        size=asset.size,
        format=asset.format,
        width=asset.width,
        height=asset.height,
        entry_fields={},
        matches=matches,
        status=IntakeItem.Status.FLAGGED,
        via=via,
        asset=asset,
        created_by=actor_user(actor),
    )


@dataclass(frozen=True)
class IntakeDecision:
    item: IntakeItem
    asset: Asset | None
    message: str


def _claim(*, item_id: int, choice: str, target_id: int | None, reason: str, actor) -> IntakeItem:
    with transaction.atomic():
        item = IntakeItem.objects.select_for_update(no_key=True).get(pk=item_id)
        if item.status == IntakeItem.Status.DECIDING:
            if item.choice != choice:
                raise ArchiveError(
                    f"This upload is already being handled ({item.get_choice_display()}).",
                    code="conflict",
                )
            return item  # finishing a decision cut short
        if item.status != IntakeItem.Status.WAITING:
            raise ArchiveError(
                f"This upload was already decided: {item.get_status_display()}.", code="conflict"
            )
        item.status, item.choice, item.decision_reason = IntakeItem.Status.DECIDING, choice, reason
        item.target_id = target_id
        item.decided_by = actor_user(actor)
        item.save(update_fields=["status", "choice", "decision_reason", "target", "decided_by"])
        return item


def _target(item: IntakeItem, target_id: int | None) -> int:
    known = [m["asset"] for m in item.matches]
    if target_id is None:
        if not known:
            raise ArchiveError("This upload matched no existing asset; store it instead.")
        return known[0]
    if target_id not in known:
        raise ArchiveError(
            f"Asset {target_id} is not one of the assets this upload was matched with "
            f"({', '.join(map(str, known)) or 'none'}).",
            code="invalid",
        )
    return target_id


def _staged_release(item: IntakeItem) -> None:
    """Delete the staged bytes once no other waiting item needs the same file."""
    alias, key = item.staged_alias, item.staged_key
    if not key:
        return
    busy = (
        IntakeItem.objects.filter(staged_alias=alias, staged_key=key)
        .exclude(pk=item.pk)
        .exclude(status__in=IntakeItem.DONE)
        .exists()
    )
    if not busy:
        storages[alias].delete(key)


@audited
def _finish(*, item: IntakeItem, status: str, asset: Asset | None, verb: str, actor) -> IntakeItem:
    item = IntakeItem.objects.select_for_update(no_key=True).get(pk=item.pk)
    if item.status != IntakeItem.Status.DECIDING:
        # Another curator's identical decision finished first.
        raise ArchiveError(
            f"This upload was already decided: {item.get_status_display()}.", code="conflict"
        )
    before = _item_snapshot(item)
    item.status, item.asset, item.decided_at = status, asset, timezone.now()
    staged = (item.staged_alias, item.staged_key)
    item.staged_key = ""
    item.save(update_fields=["status", "asset", "decided_at", "staged_key"])
    audit_record(
        actor=actor,
        verb=verb,
        obj=item,
        before=before,
        after={**_item_snapshot(item), "choice": item.choice, "asset": asset.pk if asset else None},
        reason=item.decision_reason,
    )
    released = IntakeItem(pk=item.pk, staged_alias=staged[0], staged_key=staged[1])
    after_audited(lambda: _staged_release(released))
    return item


def _entry_metadata(fields: dict):
    from archive.ingest import EntryMetadata

    fields = dict(fields)
    for name in ("date_start", "date_end"):
        if fields.get(name):
            fields[name] = date.fromisoformat(fields[name])
    return EntryMetadata(**fields)


def _store_anyway(item: IntakeItem, actor):
    from archive.ingest import IngestStatus, asset_ingest

    try:
        fp = bytes_open(alias=item.staged_alias, key=item.staged_key)
    except OSError as exc:
        item.refresh_from_db()
        if item.status in IntakeItem.DONE:
            raise ArchiveError(
                f"This upload was already decided: {item.get_status_display()}.",
                code="conflict",
            ) from exc
        raise ArchiveError(
            "The upload's staged bytes cannot be read; upload the file again."
        ) from exc
    with fp:
        outcome = asset_ingest(
            fp=fp,
            path=item.path,
            collection=item.collection,
            actor=actor,
            metadata=_entry_metadata(item.entry_fields.get("metadata", {})),
            published=bool(item.entry_fields.get("published")),
            gate=False,
        )
    if outcome.status == IngestStatus.REJECTED:
        raise ArchiveError(f"The upload could not be stored: {outcome.reason}")
    return outcome.asset


def _record_added(item: IntakeItem, target_id: int, actor) -> Asset:
    """Give the existing asset this upload's source and catalogue entry; no bytes stored."""
    from archive.ingest import IngestStatus, _entry_build, _source_attach

    entry = _entry_build(
        collection=item.collection,
        path=item.path,
        metadata=_entry_metadata(item.entry_fields.get("metadata", {})),
        published=bool(item.entry_fields.get("published")),
    )
    with audited():
        asset = _target_live(target_id, lock=True)
        status = _source_attach(
            asset=asset, collection=item.collection, path=item.path, entry=entry, actor=actor
        )
        if status == IngestStatus.UNCHANGED:
            # This path already names that asset: nothing more to add.
            pass
    return asset


def _target_live(target_id: int, *, lock: bool = False) -> Asset:
    """The matched asset, refused unless active: using a purged one would discard the only
    copy left, and a quarantined one is due to be purged (with this upload's record on it)."""
    asset = asset_lock(target_id) if lock else Asset.objects.get(pk=target_id)
    if asset.state == Asset.State.PURGED:
        raise ArchiveError(
            f"Asset {target_id} was purged since this upload arrived; store the upload instead.",
            code="conflict",
        )
    if asset.state != Asset.State.ACTIVE:
        raise ArchiveError(
            f"Asset {target_id} is in quarantine, due to be purged: using it would leave this "
            "upload with no copy kept. Restore that asset first, or store the upload instead.",
            code="conflict",
        )
    return asset


def _unclaim(item: IntakeItem) -> None:
    """A decision refused by the rules (not cut short) leaves the upload waiting again."""
    IntakeItem.objects.filter(pk=item.pk, status=IntakeItem.Status.DECIDING).update(
        status=IntakeItem.Status.WAITING, choice="", target=None, decision_reason=""
    )


def intake_may_decide(*, item: IntakeItem, actor) -> bool:
    """Curators decide every waiting upload; whoever uploaded through the web decides their
    own at the prompt, unless the collection holds copies at its gate (then it is the
    curators' decision)."""
    if actor is SYSTEM or getattr(actor, "has_perm", lambda _: False)(DECIDE_PERMISSION):
        return True
    own = item.via == IntakeItem.Via.WEB and item.created_by_id == getattr(actor, "pk", None)
    held_by_policy = item.curators_decide or (
        item.collection.intake_policy == Collection.IntakePolicy.HOLD
    )
    return own and not held_by_policy


def intake_decide(
    *, item: IntakeItem, choice: str, reason: str, actor, target: int | None = None
) -> IntakeDecision:
    """Carry out a curator's (or, at the web prompt, the uploader's) choice for a waiting upload."""
    if not intake_may_decide(item=item, actor=actor):
        actor_require(actor, DECIDE_PERMISSION, "decide on uploads waiting at the intake gate")
    if choice not in Choice.values:
        raise ArchiveError(
            f"Unknown choice {choice!r}: use one of {', '.join(Choice.values)}.", code="invalid"
        )
    reason = (reason or "").strip()
    if not reason:
        raise ArchiveError("Say why (a reason is recorded with the decision).", code="invalid")
    target_id = None if choice == Choice.STORE else _target(item, target)
    item = _claim(item_id=item.pk, choice=choice, target_id=target_id, reason=reason, actor=actor)
    crash_point("intake.claimed")
    if item.target_id is not None:
        try:
            _target_live(item.target_id)
        except ArchiveError:
            _unclaim(item)  # also a decision cut short whose target was purged since
            raise
    if choice == Choice.STORE:
        asset = _store_anyway(item, actor)
        item = _finish(
            item=item,
            status=IntakeItem.Status.STORED,
            asset=asset,
            verb="intake.stored",
            actor=actor,
        )
        return IntakeDecision(item, asset, f"Stored as asset {asset.pk}.")
    if choice == Choice.ADD_RECORD:
        try:
            asset = _record_added(item, item.target_id, actor)
        except ArchiveError:
            _unclaim(item)
            raise
        item = _finish(
            item=item,
            status=IntakeItem.Status.RECORD_ADDED,
            asset=asset,
            verb="intake.record_added",
            actor=actor,
        )
        return IntakeDecision(
            item, asset, f"Added as another record of asset {asset.pk}; its bytes were not stored."
        )
    try:
        with transaction.atomic():
            asset = _target_live(item.target_id, lock=True)
            item = _finish(
                item=item,
                status=IntakeItem.Status.USED_EXISTING,
                asset=asset,
                verb="intake.used_existing",
                actor=actor,
            )
    except ArchiveError:
        _unclaim(item)  # the target left the archive, or another decision finished first
        raise
    return IntakeDecision(
        item, asset, f"Nothing stored: the existing record of asset {item.target_id} is used."
    )
