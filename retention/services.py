"""Quarantine and restore: the reversible step before any byte may be destroyed."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.holds import hold_guard_check
from archive.models import Asset
from retention.models import QuarantineRecord


def _locked(asset: Asset) -> Asset:
    return Asset.objects.select_for_update(no_key=True).get(pk=asset.pk)


@transaction.atomic
def asset_quarantine(
    *, asset: Asset, reason: str, actor, window_days: int | None = None
) -> QuarantineRecord:
    """Take an asset out of use, keeping its bytes, restorable until the deadline."""
    asset = _locked(asset)
    if asset.state != Asset.State.ACTIVE:
        raise ArchiveError(
            f"{asset} is {asset.get_state_display().lower()}, not active.", code="conflict"
        )
    hold_guard_check(asset=asset, action="quarantine", actor=actor)
    days = settings.KEEPSAKE_RESTORE_WINDOW_DAYS if window_days is None else window_days
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
    return record


@transaction.atomic
def asset_restore(*, asset: Asset, actor, reason: str = "") -> Asset:
    """Bring a quarantined asset back as it was, before its restore deadline."""
    asset = _locked(asset)
    record = (
        QuarantineRecord.objects.select_for_update(no_key=True)
        .filter(asset=asset, restored_at__isnull=True)
        .first()
    )
    if asset.state != Asset.State.QUARANTINED or record is None:
        raise ArchiveError(f"{asset} is not in quarantine.", code="conflict")
    record.restored_at, record.restored_by = timezone.now(), actor
    record.save(update_fields=["restored_at", "restored_by"])
    asset.state = record.previous_state
    asset.save(update_fields=["state"])
    audit_record(
        actor=actor,
        verb="asset.restored",
        obj=asset,
        reason=reason,
        before={"state": Asset.State.QUARANTINED},
        after={"state": asset.state},
    )
    return asset
