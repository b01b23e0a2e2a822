"""Disposition: request, approve (a second person), execute through the guard, keep tombstones.

Execution purges one asset per transaction: lock the asset, re-check holds inside the lock,
ask the guard, then turn the row into a tombstone (state purged, no storage key; the
fingerprints, entries and audit trail stay) and record the byte deletion as a switched
`PendingMove`, which deletes the file after commit, or on resume after a crash.

A restore voids the asset's open disposition items (`disposition_items_void`, the
retention implementation of `archive.hooks.asset_restored`): an item is closed when its
`executed_at` is set, and its outcome says how ("purged", or "voided: ..."), so an
approval given before a restore never purges the asset later.

Crash points: `purge.tombstoned` (tombstone committed, file not yet deleted) and
`purge.deleted` (file deleted, the deletion not yet recorded as done).
"""

from collections.abc import Iterable

from django.utils import timezone

from archive.actors import SYSTEM, actor_require, actor_user
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.holds import hold_refusals_audited
from archive.lifecycle import Transition, asset_transition, assets_lock
from archive.models import Asset
from retention.certificates import certificate_after_purge, certificates_batched
from retention.guard import asset_family_lock
from retention.models import DispositionItem, DispositionRequest, PendingMove, QuarantineRecord
from retention.moves import move_source_delete_on_commit

VOIDED = "voided"


def _require(actor, permission: str, doing: str) -> None:
    actor_require(actor, permission, doing)


def _requestable(assets: list[Asset]) -> None:
    for asset in assets:
        if asset.state != Asset.State.QUARANTINED:
            raise ArchiveError(f"{asset} is not in quarantine; only quarantined assets go.")
    pending = DispositionItem.objects.filter(
        asset__in=assets, executed_at__isnull=True, request__executed_at__isnull=True
    ).select_related("asset")
    if clash := pending.first():
        raise ArchiveError(
            f"{clash.asset} is already in disposition request {clash.request_id}.",
            code="conflict",
        )


@audited
def disposition_request_create(
    *, assets: Iterable[Asset], reason: str, actor
) -> DispositionRequest:
    """Ask for quarantined assets to be purged once their windows close (SYSTEM: the job)."""
    _require(actor, "retention.request_disposition", "request a disposition")
    if not reason.strip():
        raise ArchiveError("Say why these assets should be purged.", code="invalid")
    ids = sorted({asset.pk for asset in assets})
    if not ids:
        raise ArchiveError("Name at least one asset.")
    locked = list(assets_lock(ids).values())
    _requestable(locked)
    request = DispositionRequest(reason=reason.strip(), requested_by=actor_user(actor))
    request.full_clean()
    request.save()
    items = [DispositionItem(request=request, asset=asset) for asset in locked]
    for item in items:
        item.full_clean()
    DispositionItem.objects.bulk_create(items)
    audit_record(
        actor=actor,
        verb="disposition.requested",
        obj=request,
        reason=request.reason,
        after={"assets": ids},
    )
    return request


@audited
def disposition_request_approve(
    *, request: DispositionRequest, actor, reason: str = ""
) -> DispositionRequest:
    """Approve a request someone else made; the requester can never approve their own."""
    if actor is None or actor is SYSTEM:
        raise ArchiveError("Approval needs a person.", code="permission_denied")
    _require(actor, "retention.approve_disposition", "approve a disposition")
    request = DispositionRequest.objects.select_for_update(no_key=True).get(pk=request.pk)
    if request.approved_at is not None:
        raise ArchiveError(f"Request {request.pk} is already approved.", code="conflict")
    if request.requested_by_id == actor.pk:
        raise ArchiveError(
            "A disposition needs a second person: you requested this one.", code="four_eyes"
        )
    request.approved_by, request.approved_at = actor, timezone.now()
    request.full_clean()
    request.save(update_fields=["approved_by", "approved_at"])
    audit_record(
        actor=actor,
        verb="disposition.approved",
        obj=request,
        reason=reason,
        after={"assets": sorted(request.items.values_list("asset_id", flat=True))},
    )
    return request


def _tombstone(asset: Asset, item: DispositionItem, actor) -> PendingMove:
    where = {"storage_alias": asset.storage_alias, "storage_key": asset.storage_key}
    # The transition asks the one guard (holds first, inside the lock): a hold placed a
    # moment ago wins over the purge.
    asset_transition(
        asset=asset,
        transition=Transition.PURGE,
        actor=actor,
        reason=item.request.reason,
        changes={"storage_key": ""},
        before={"storage": f"{where['storage_alias']}:{where['storage_key']}"},
        after={"sha256": asset.sha256, "size": asset.size, "disposition_request": item.request_id},
    )
    now = timezone.now()
    QuarantineRecord.objects.filter(
        asset=asset, restored_at__isnull=True, purged_at__isnull=True
    ).update(purged_at=now)
    deletion = PendingMove(
        asset=asset,
        kind=PendingMove.Kind.PURGE,
        step=PendingMove.Step.SWITCHED,
        sha256=asset.sha256,
        from_alias=where["storage_alias"],
        from_key=where["storage_key"],
        actor=actor_user(actor),
    )
    deletion.full_clean()
    deletion.save()
    item.executed_at, item.outcome = now, "purged"
    item.save(update_fields=["executed_at", "outcome"])
    return deletion


@hold_refusals_audited()
@audited
def disposition_item_execute(*, item: DispositionItem, actor) -> str:
    """Purge one asset of an approved request, if the guard lets it; idempotent."""
    asset = asset_family_lock(item.asset_id)
    item = (
        DispositionItem.objects.select_for_update(no_key=True)
        .select_related("request")
        .get(pk=item.pk)
    )
    if item.executed_at is not None:
        return item.outcome if item.outcome.startswith(VOIDED) else "already executed"
    deletion = _tombstone(asset, item, actor)
    move_source_delete_on_commit(deletion)
    # Issued after this block committed and the bytes were deleted (after_audited).
    certificate_after_purge(item=item, actor=actor)
    return "purged"


def disposition_items_void(*, asset: Asset, actor, reason: str) -> None:
    """Close the open disposition items of a restored asset, so none of them purges it later.

    The `archive.hooks.asset_restored` implementation: runs inside the restore, the
    asset locked; a new purge needs a new request and a new approval.
    """
    items = (
        DispositionItem.objects.select_for_update(no_key=True)
        .filter(asset=asset, executed_at__isnull=True)
        .order_by("pk")
    )
    now = timezone.now()
    for item in items:
        item.executed_at = now
        item.outcome = f"{VOIDED}: the asset was restored ({reason or 'no reason given'})"
        item.save(update_fields=["executed_at", "outcome"])
        audit_record(
            actor=actor,
            verb="disposition.item_voided",
            obj=item.request,
            reason=item.outcome,
            after={"asset": asset.pk, "item": item.pk},
        )


def _outcome_note(item: DispositionItem, message: str) -> None:
    DispositionItem.objects.filter(pk=item.pk, executed_at__isnull=True).update(outcome=message)


def disposition_execute(*, request: DispositionRequest, actor) -> dict[int, str]:
    """Purge every asset of an approved request whose window closed; report each outcome."""
    _require(actor, "retention.execute_disposition", "execute a disposition")
    request = DispositionRequest.objects.get(pk=request.pk)
    if request.approved_at is None:
        raise ArchiveError(f"Request {request.pk} is not approved yet.", code="approval_missing")
    outcomes = {}
    # The purges of this run share one certificate of destruction.
    with certificates_batched():
        for item in request.items.order_by("asset_id"):
            try:
                outcomes[item.asset_id] = disposition_item_execute(item=item, actor=actor)
            except ArchiveError as exc:
                outcomes[item.asset_id] = exc.message
                _outcome_note(item, exc.message)
    disposition_request_close(request=request, actor=actor)
    return outcomes


@audited
def disposition_request_close(*, request: DispositionRequest, actor) -> None:
    """Mark a request executed once every one of its assets is purged."""
    request = DispositionRequest.objects.select_for_update(no_key=True).get(pk=request.pk)
    if request.executed_at or request.items.filter(executed_at__isnull=True).exists():
        return
    if request.approved_at is None:
        return  # every item voided before approval: nothing was executed
    request.executed_at = timezone.now()
    request.save(update_fields=["executed_at"])
    audit_record(actor=actor, verb="disposition.executed", obj=request)
