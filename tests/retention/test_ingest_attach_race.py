"""Ingest of bytes a quarantined asset holds: it reactivates the asset or stores anew.

Defect: the ingest looked the asset up without a lock and attached a source and a
published entry to it; a purge committing in between left a published record whose
bytes no live asset held (invariant 2).
"""

import threading

import pytest
from django.db import connection, connections

from archive.models import Asset, CatalogueEntry
from retention.models import DispositionRequest, QuarantineRecord
from retention.purge import (
    disposition_execute,
    disposition_request_approve,
    disposition_request_create,
)
from retention.services import asset_quarantine
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_image
from tests.retention.conftest import stored_sha, window_closed


def _published_bytes_kept() -> list[str]:
    """Published digests that no live asset holds with verified bytes (should be none)."""
    lost = []
    for sha in CatalogueEntry.objects.exclude(published_sha256="").values_list(
        "published_sha256", flat=True
    ):
        live = Asset.objects.holding_bytes().filter(sha256=sha)
        if not any(stored_sha(asset) == sha for asset in live):
            lost.append(sha)
    return lost


@pytest.mark.django_db
def test_ingest_of_quarantined_bytes_restores_the_asset(collection, user):
    data = image_bytes(make_image("olive"))
    asset = ingest_bytes(data, collection=collection, path="a/olive.jpg").asset
    asset_quarantine(asset=asset, reason="duplicate", actor=user)

    outcome = ingest_bytes(data, collection=collection, path="b/olive.jpg", published=True)

    asset.refresh_from_db()
    assert outcome.asset.pk == asset.pk
    assert asset.state == Asset.State.ACTIVE
    assert asset.replaced_by_id is None
    assert outcome.entry.published_sha256 == asset.sha256
    assert stored_sha(asset) == asset.sha256
    # The quarantine is over on the record too, so the asset can be quarantined again.
    assert not QuarantineRecord.objects.filter(asset=asset, restored_at__isnull=True).exists()
    asset_quarantine(asset=asset, reason="duplicate again", actor=user)


def _purgeable(collection, user, requester, approver, data):
    """A replaced duplicate whose window closed, with an approved disposition request."""
    from dedup.consolidation import consolidation_execute

    asset = ingest_bytes(data, collection=collection, path="a/race.jpg").asset
    keep = ingest_bytes(image_bytes(make_image("navy")), collection=collection).asset
    consolidation_execute(canonical=keep, replaced=[asset], candidates=[], actor=user)
    window_closed(asset)
    request = disposition_request_create(assets=[asset], reason="duplicate", actor=requester)
    disposition_request_approve(request=request, actor=approver)
    return asset, request


@pytest.mark.django_db(transaction=True)
def test_purge_racing_an_ingest_of_the_same_bytes_loses_nothing(
    collection, user, requester, approver, monkeypatch
):
    """The purge holds the asset's lock when the ingest looks; the ingest must wait and see."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks race on PostgreSQL; SQLite serialises writers")
    import retention.purge as purge

    data = image_bytes(make_image("maroon"))
    asset, request = _purgeable(collection, user, requester, approver, data)
    tombstoned, release = threading.Event(), threading.Event()
    real_tombstone = purge._tombstone

    def paused_tombstone(*args, **kwargs):
        result = real_tombstone(*args, **kwargs)
        tombstoned.set()  # the purge is written but not committed yet
        release.wait(timeout=10)
        return result

    monkeypatch.setattr(purge, "_tombstone", paused_tombstone)
    errors = []

    def run_purge():
        try:
            fresh = DispositionRequest.objects.get(pk=request.pk)
            disposition_execute(request=fresh, actor=approver)
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    purger = threading.Thread(target=run_purge)
    purger.start()
    assert tombstoned.wait(timeout=10)
    outcome = {}

    def run_ingest():
        try:
            outcome["value"] = ingest_bytes(
                data, collection=collection, path="b/race.jpg", published=True
            )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    ingester = threading.Thread(target=run_ingest)
    ingester.start()
    ingester.join(timeout=1.5)  # the ingest blocks on the asset's lock (or wrongly finishes)
    release.set()
    purger.join(timeout=20)
    ingester.join(timeout=20)

    assert not errors, errors
    assert _published_bytes_kept() == []
    entry = outcome["value"].entry
    entry.refresh_from_db()
    holder = Asset.objects.holding_bytes().get(sha256=entry.published_sha256)
    assert holder.pk != asset.pk  # stored anew: the first asset is a tombstone now
    assert stored_sha(holder) == holder.sha256
