"""Fixtures for retention tests: people, assets built through the services, time travel."""

import hashlib
from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.utils import timezone

from archive.holds import legal_hold_place
from retention.models import QuarantineRecord
from retention.services import asset_quarantine
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer, person


def stored_sha(asset) -> str | None:
    """SHA-256 of what the asset's pointer names now, or None when nothing is there."""
    asset.refresh_from_db()
    storage = storages[asset.storage_alias]
    if not asset.storage_key or not storage.exists(asset.storage_key):
        return None
    with storage.open(asset.storage_key, "rb") as fp:
        return hashlib.sha256(fp.read()).hexdigest()


def exists(alias: str, key: str) -> bool:
    return storages[alias].exists(key)


def window_closed(asset) -> QuarantineRecord:
    """Pretend the asset's restore window closed a day ago."""
    now = timezone.now()
    QuarantineRecord.objects.filter(
        asset=asset, restored_at__isnull=True, purged_at__isnull=True
    ).update(quarantined_at=now - timedelta(days=31), restore_deadline=now - timedelta(days=1))
    return QuarantineRecord.objects.get(asset=asset, purged_at__isnull=True, restored_at=None)


def hold(asset, matter="M-1"):
    return legal_hold_place(
        matter_reference=matter, reason="litigation", assets=[asset], actor=compliance_officer()
    )


@pytest.fixture(autouse=True)
def default_policies(db):
    """The seeded defaults; a transactional test elsewhere may have flushed them."""
    from retention.policies import policies_seed_defaults

    policies_seed_defaults()


@pytest.fixture
def operator(db):
    return person(
        "operator",
        "retention.move_asset",
        "retention.view_storage_dashboard",
        "retention.view_retentionpolicy",
        "retention.view_pendingmove",
    )


@pytest.fixture
def requester(db):
    return person(
        "requester",
        "retention.request_disposition",
        "retention.view_quarantinerecord",
        "retention.view_dispositionrequest",
        "retention.restore_asset",
        "archive.view_asset",
    )


@pytest.fixture
def approver(db):
    return person(
        "approver",
        "retention.approve_disposition",
        "retention.execute_disposition",
        "retention.view_dispositionrequest",
        "retention.view_quarantinerecord",
        "retention.request_disposition",
    )


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal").asset


@pytest.fixture
def other_asset(collection):
    return ingest_picture(collection=collection, colour="purple").asset


@pytest.fixture
def quarantined(asset, user, django_capture_on_commit_callbacks):
    """The asset in quarantine (bytes in the quarantine tier, hot copy deleted)."""
    with django_capture_on_commit_callbacks(execute=True):
        asset_quarantine(asset=asset, reason="replaced duplicate", actor=user)
    asset.refresh_from_db()
    return asset


@pytest.fixture
def replaced(asset, other_asset, user, django_capture_on_commit_callbacks):
    """asset consolidated into other_asset: replaced, quarantined, its entry repointed."""
    from dedup.consolidation import consolidation_execute

    with django_capture_on_commit_callbacks(execute=True):
        consolidation_execute(canonical=other_asset, replaced=[asset], candidates=[], actor=user)
    asset.refresh_from_db()
    return asset


@pytest.fixture
def approved(replaced, requester, approver):
    """A replaced asset whose window closed, with a disposition request approved by another."""
    from retention.purge import disposition_request_approve, disposition_request_create

    request = disposition_request_create(assets=[replaced], reason="duplicate", actor=requester)
    disposition_request_approve(request=request, actor=approver)
    window_closed(replaced)
    return request
