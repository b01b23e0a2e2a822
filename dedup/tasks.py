"""django-q2 tasks: take ids, load rows, call one service; safe to run twice."""

from archive.actors import SYSTEM
from archive.models import Asset
from dedup.imaging import HASH_VERSION
from dedup.models import Fingerprint


def asset_fingerprint_task(asset_id: int) -> str:
    """Fingerprint one asset unless a current fingerprint already exists."""
    from dedup.services import asset_fingerprint

    asset = Asset.objects.holding_bytes().filter(pk=asset_id).first()
    if asset is None:
        return "gone"
    current = Fingerprint.objects.filter(asset=asset, hash_version=HASH_VERSION, error="")
    if current.exists():
        return "current"  # redelivered or already backfilled: nothing to do
    asset_fingerprint(asset=asset, found_by="task", actor=SYSTEM)
    return "computed"


def scan_incremental_task() -> str:
    """The rolling scan: flag near duplicates among fingerprints added since the last run."""
    from dedup.services import scan_incremental

    run = scan_incremental(actor=SYSTEM)
    return f"scan {run.pk}: {run.summary}"


def reclaimable_refresh_task() -> str:
    """The review queue's reclaimable figure, computed for the pages of a large queue."""
    from dedup.reclaimable import reclaimable_refresh

    figure = reclaimable_refresh()
    return f"reclaimable: {figure['assets']} copies, {figure['bytes']} bytes"
