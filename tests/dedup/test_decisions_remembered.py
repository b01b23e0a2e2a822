"""Decisions are remembered: a decided pair is never proposed again by any path.

Assets are content-addressed, so "unless one of the files changes" means a new asset: the
new bytes form a new pair and are proposed, while the decided pair keeps its decision.
"""

import io

import pytest
from django.core.management import call_command

from dedup.models import DuplicateCandidate, Fingerprint
from dedup.tasks import asset_fingerprint_task, scan_incremental_task
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

SCENE = make_scene(41)
ORIGINAL = image_bytes(SCENE, quality=92)
HALF = image_bytes(SCENE.resize((160, 120)), quality=80)


def every_path_again(collection) -> None:
    """Everything that could propose the pair again: scans, re-ingests, re-fingerprints."""
    call_command("scan_duplicates", record=True, stdout=io.StringIO())
    Fingerprint.objects.update(hash_version="an older recipe")
    for asset_id in Fingerprint.objects.values_list("asset_id", flat=True):
        asset_fingerprint_task(asset_id)  # refingerprints and looks the asset up again
    scan_incremental_task()
    ingest_bytes(ORIGINAL, collection=collection, path="again/a.jpg")
    ingest_bytes(HALF, collection=collection, path="again/a-half.jpg")


def decided_pair(collection, status: str) -> DuplicateCandidate:
    ingest_bytes(ORIGINAL, collection=collection, path="a.jpg")
    ingest_bytes(HALF, collection=collection, path="a-half.jpg")
    candidate = DuplicateCandidate.objects.get()
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(status=status)
    return candidate


@pytest.mark.parametrize(
    "status", [DuplicateCandidate.Status.REJECTED, DuplicateCandidate.Status.CONFIRMED]
)
def test_a_decided_pair_is_never_proposed_again(collection, status):
    candidate = decided_pair(collection, status)

    every_path_again(collection)

    (again,) = DuplicateCandidate.objects.all()
    assert (again.pk, again.status) == (candidate.pk, status)


def test_a_changed_file_is_a_new_asset_and_a_new_pair(collection):
    decided_pair(collection, DuplicateCandidate.Status.REJECTED)

    changed = ingest_bytes(image_bytes(SCENE.resize((160, 120)), quality=60), collection=collection)

    assert len(changed.findings["possible_duplicates"]) == 2  # the original and the old copy
    statuses = sorted(DuplicateCandidate.objects.values_list("status", flat=True))
    assert statuses == ["pending", "pending", "rejected"]
