"""Quarantine and restore: the reversible step before any byte may be destroyed."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.holds import hold_refusals_audited
from archive.models import Asset
from archive.selectors import asset_is_frozen
from retention.guard import Action, disposition_guard_check
from retention.models import PendingMove, QuarantineRecord
from retention.moves import move_open, move_run
from retention.policies import quarantine_window_days

logger = logging.getLogger("keepsake.retention")


def _locked(asset: Asset) -> Asset:
    return Asset.objects.select_for_update(no_key=True).get(pk=asset.pk)


def _record_open(asset: Asset) -> QuarantineRecord | None:
    return (
        QuarantineRecord.objects.select_for_update(no_key=True)
        .filter(asset=asset, restored_at__isnull=True, purged_at__isnull=True)
        .first()
    )


@hold_refusals_audited()
@transaction.atomic
def asset_quarantine(
    *, asset: Asset, reason: str, actor, window_days: int | None = None
) -> QuarantineRecord:
    """Take an asset out of use and move its bytes to the quarantine tier until the deadline."""
    asset = _locked(asset)
    disposition_guard_check(asset=asset, action=Action.QUARANTINE, actor=actor)
    days = quarantine_window_days(asset=asset) if window_days is None else window_days
    now = timezone.now()
    record = QuarantineRecord(
        asset=asset,
        reason=reason,
        quarantined_at=now,
        quarantined_by=actor,
        restore_deadline=now + timedelta(days=days),
        previous_state=asset.state,
        previous_alias=asset.storage_alias,
    )
    record.full_clean()
    record.save()
    asset.state = Asset.State.QUARANTINED
    asset.save(update_fields=["state"])
    audit_record(
        actor=actor,
        verb="asset.quarantined",
        obj=asset,
        reason=reason,
        before={"state": record.previous_state},
        after={"state": asset.state, "restore_deadline": record.restore_deadline},
    )
    if asset.storage_alias != Asset.Tier.QUARANTINE:
        move = move_open(
            asset=asset,
            kind=PendingMove.Kind.QUARANTINE,
            to_alias=Asset.Tier.QUARANTINE,
            actor=actor,
        )
        move_run(move, actor=actor)
    record.asset.refresh_from_db()
    return record


def _restore_bytes(*, asset: Asset, record: QuarantineRecord, actor) -> str:
    if asset.storage_alias != Asset.Tier.QUARANTINE:
        return asset.storage_alias
    if asset_is_frozen(asset=asset):
        # A held asset is never moved: it is back in use, its bytes stay where they are
        # until the hold is released (enforcement then moves them home).
        return asset.storage_alias
    home = record.previous_alias
    if home not in (Asset.Tier.HOT, Asset.Tier.COLD):
        home = Asset.Tier.HOT
    move = move_open(asset=asset, kind=PendingMove.Kind.RESTORE, to_alias=home, actor=actor)
    move_run(move, actor=actor)
    return home


@transaction.atomic
def asset_restore(*, asset: Asset, actor, reason: str = "") -> Asset:
    """Bring a quarantined asset back as it was: same state, same tier, same SHA-256."""
    asset = _locked(asset)
    record = _record_open(asset)
    if asset.state != Asset.State.QUARANTINED or record is None:
        raise ArchiveError(f"{asset} is not in quarantine.", code="conflict")
    record.restored_at, record.restored_by = timezone.now(), actor
    record.full_clean()
    record.save(update_fields=["restored_at", "restored_by"])
    asset.state = record.previous_state
    asset.save(update_fields=["state"])
    tier = _restore_bytes(asset=asset, record=record, actor=actor)
    audit_record(
        actor=actor,
        verb="asset.restored",
        obj=asset,
        reason=reason,
        before={"state": Asset.State.QUARANTINED},
        after={"state": asset.state, "storage_alias": tier, "sha256": asset.sha256},
    )
    asset.refresh_from_db()
    return asset


def quarantine_deadlines_remind(*, within_days: int | None = None) -> int:
    """Audit (once per quarantine) each restore deadline that closes within the next days."""
    days = settings.KEEPSAKE_QUARANTINE_REMIND_DAYS if within_days is None else within_days
    now = timezone.now()
    due = QuarantineRecord.objects.filter(
        restored_at__isnull=True,
        purged_at__isnull=True,
        reminded_at__isnull=True,
        restore_deadline__lte=now + timedelta(days=days),
    )
    reminded = 0
    for record in due.select_related("asset").order_by("restore_deadline", "pk"):
        with transaction.atomic():
            # The conditional update claims the reminder: a parallel run skips it.
            if not QuarantineRecord.objects.filter(pk=record.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                continue
            audit_record(
                actor=None,
                verb="quarantine.deadline_near",
                obj=record.asset,
                after={"restore_deadline": record.restore_deadline, "quarantine": record.pk},
            )
        logger.info("restore window of %s closes at %s", record.asset, record.restore_deadline)
        reminded += 1
    return reminded
