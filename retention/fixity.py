"""Fixity: re-read stored bytes in rolling batches and record whether they still verify.

A failure is recorded (a `FixityCheck` row and an `asset.fixity_failed` audit event) and
shown in the admin; nothing is repaired or replaced automatically, because deciding
which copy is right is a person's job.
"""

from django.conf import settings
from django.db.models import F, OuterRef, Subquery

from archive.actors import SYSTEM
from archive.audit import audit_record, audited
from archive.models import Asset
from archive.storage import digest_file
from retention.models import FixityCheck


def _read(asset: Asset) -> tuple[str, str]:
    from django.core.files.storage import storages

    try:
        with storages[asset.storage_alias].open(asset.storage_key, "rb") as fp:
            return digest_file(fp)[0], ""
    except FileNotFoundError:
        return "", "file missing"
    except OSError as exc:
        return "", f"unreadable: {exc}"


@audited
def fixity_record(*, asset: Asset, actual_sha256: str, error: str = "") -> FixityCheck:
    """Record one check of asset's bytes; a mismatch or missing file is audited."""
    ok = actual_sha256 == asset.sha256 and not error
    if not ok and not error:
        error = "SHA-256 mismatch"
    check = FixityCheck(
        asset=asset,
        storage_alias=asset.storage_alias,
        storage_key=asset.storage_key,
        expected_sha256=asset.sha256,
        actual_sha256=actual_sha256,
        ok=ok,
        error=error,
    )
    check.full_clean()
    check.save()
    if not ok:
        audit_record(
            actor=SYSTEM,
            verb="asset.fixity_failed",
            obj=asset,
            after={
                "storage": f"{asset.storage_alias}:{asset.storage_key}",
                "expected": asset.sha256,
                "actual": actual_sha256,
                "check": check.pk,
            },
            reason=error,
        )
    return check


def fixity_asset_check(*, asset: Asset) -> FixityCheck | None:
    """Re-verify one asset's stored bytes (None when it moved while being read)."""
    actual, error = _read(asset)
    fresh = Asset.objects.holding_bytes().filter(pk=asset.pk).first()
    if fresh is None or (fresh.storage_alias, fresh.storage_key) != (
        asset.storage_alias,
        asset.storage_key,
    ):
        # A move or purge finished during the read; the next batch checks the new place.
        return None
    return fixity_record(asset=fresh, actual_sha256=actual, error=error)


def fixity_due(*, limit: int):
    """The assets holding bytes, least recently checked (never checked first)."""
    latest = (
        FixityCheck.objects.filter(asset=OuterRef("pk"))
        .order_by("-checked_at")
        .values("checked_at")[:1]
    )
    return (
        Asset.objects.holding_bytes()
        .annotate(last_checked=Subquery(latest))
        .order_by(F("last_checked").asc(nulls_first=True), "pk")[:limit]
    )


def fixity_batch_run(*, batch_size: int | None = None) -> dict[str, int]:
    """Check the next batch of assets; running twice at once only checks some twice."""
    size = batch_size or settings.KEEPSAKE_FIXITY_BATCH_SIZE
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    for asset in list(fixity_due(limit=size)):
        check = fixity_asset_check(asset=asset)
        key = "skipped" if check is None else ("ok" if check.ok else "failed")
        counts[key] += 1
    return counts


def fixity_failing_assets():
    """Assets whose latest check failed (the admin's alert), as a queryset."""
    latest_ok = (
        FixityCheck.objects.filter(asset=OuterRef("pk"))
        .order_by("-checked_at", "-pk")
        .values("ok")[:1]
    )
    return (
        Asset.objects.filter(pk__in=FixityCheck.objects.filter(ok=False).values("asset"))
        .annotate(latest_ok=Subquery(latest_ok))
        .filter(latest_ok=False)
    )
