"""Sequences the lifecycle machine found failing, kept as plain regression tests."""

import pytest

from archive.ingest import IngestStatus
from archive.models import IngestRejection
from tests.archive.helpers import ingest_bytes
from tests.invariants import invariants_check
from tests.stateful.test_lifecycle_machine import bad_files

pytestmark = pytest.mark.django_db


def test_a_jpeg_truncated_inside_its_header_is_a_recorded_rejection(collection):
    """A JPEG cut off inside its EXIF segment is refused with a reason, not an OSError."""
    outcome = ingest_bytes(bad_files()["truncated.jpg"], collection=collection, path="cut.jpg")

    assert outcome.status == IngestStatus.REJECTED
    assert "truncated" in outcome.reason
    assert IngestRejection.objects.filter(path="cut.jpg").exists()
    assert invariants_check(expected_rejections=[(collection.pk, "cut.jpg")]) == []


def test_bytes_ingested_again_into_a_held_collection_come_back_under_the_hold(collection, user):
    """Soak: quarantined, then ingested again into a held collection; the hold wins now."""
    from archive.errors import ArchiveError
    from archive.holds import legal_hold_place
    from archive.services import collection_get_or_create
    from retention.services import asset_quarantine
    from tests.archive.people import compliance_officer
    from tests.conftest import image_bytes, make_scene

    data = image_bytes(make_scene(3), "PNG")
    held = collection_get_or_create(name="Held", actor=user)
    asset = ingest_bytes(data, collection=collection, path="a.png").asset
    legal_hold_place(
        matter_reference="M-2", reason="matter", collections=[held], actor=compliance_officer()
    )
    asset_quarantine(asset=asset, reason="duplicate", actor=user)

    again = ingest_bytes(data, collection=held, path="b.png")

    assert again.asset.pk == asset.pk and again.status == IngestStatus.ATTACHED
    assert invariants_check() == []
    with pytest.raises(ArchiveError):
        asset_quarantine(asset=asset, reason="again", actor=user)
