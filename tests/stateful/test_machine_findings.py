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
