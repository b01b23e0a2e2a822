"""The fingerprint command backfills missing or out-of-date fingerprints."""

import io

import pytest
from django.core.management import call_command

from archive.models import AuditEvent
from dedup.models import Fingerprint
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


def test_backfill_recomputes_only_what_is_missing_or_stale(collection):
    assets = [
        ingest_bytes(image_bytes(make_scene(40 + i)), collection=collection, path=f"{i}.jpg").asset
        for i in range(3)
    ]
    Fingerprint.objects.filter(asset=assets[0]).delete()
    Fingerprint.objects.filter(asset=assets[1]).update(hash_version="older recipe")
    out = io.StringIO()

    call_command("fingerprint", workers=1, no_progress=True, stdout=out)
    call_command("fingerprint", workers=1, no_progress=True, stdout=out)

    assert out.getvalue().splitlines() == [
        "fingerprinted: 2, failed: 0, possible duplicates flagged: 0",
        "fingerprinted: 0, failed: 0, possible duplicates flagged: 0",
    ]
    assert Fingerprint.objects.filter(error="").count() == 3


def test_unreadable_stored_bytes_are_recorded_as_fingerprint_errors(collection, isolated_storage):
    asset = ingest_bytes(image_bytes(make_scene(50)), collection=collection).asset
    Fingerprint.objects.filter(asset=asset).delete()
    (isolated_storage / "hot" / asset.storage_key).write_bytes(b"damaged")
    out = io.StringIO()

    call_command("fingerprint", workers=1, no_progress=True, stdout=out)

    assert "failed: 1" in out.getvalue()
    assert Fingerprint.objects.get(asset=asset).error.startswith("not an image")
    assert AuditEvent.objects.filter(verb="fingerprint.failed").count() == 1
