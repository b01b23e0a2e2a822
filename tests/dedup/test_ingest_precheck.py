"""The pre-ingest check: a new file is fingerprinted and looked up before it commits."""

import io

import pytest
from django.core.management import call_command

from archive.models import AuditEvent
from dedup.models import DuplicateCandidate, Fingerprint
from dedup.tasks import asset_fingerprint_task
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_image, make_scene

pytestmark = pytest.mark.django_db


def test_a_resized_copy_is_flagged_and_reported_to_the_caller(collection):
    scene = make_scene(1)
    original = ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    small = scene.resize((160, 120))

    copy = ingest_bytes(image_bytes(small, quality=70), collection=collection, path="a-small.jpg")

    assert copy.findings["possible_duplicates"] == [original.asset.pk]
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.asset_a, candidate.asset_b) == (original.asset, copy.asset)
    assert candidate.status == DuplicateCandidate.Status.PENDING
    assert candidate.found_by == "ingest"
    assert candidate.phash_distance <= 10
    assert candidate.evidence["larger"] == "a"
    assert AuditEvent.objects.filter(verb="candidate.flagged").count() == 1


def test_an_unrelated_image_is_not_flagged(collection):
    ingest_bytes(image_bytes(make_scene(1)), collection=collection, path="a.jpg")

    other = ingest_bytes(image_bytes(make_scene(2)), collection=collection, path="b.jpg")

    assert other.findings["possible_duplicates"] == []
    assert DuplicateCandidate.objects.count() == 0


def test_every_new_asset_gets_a_fingerprint_with_its_recipe(collection):
    outcome = ingest_bytes(image_bytes(make_scene(3)), collection=collection)

    fingerprint = Fingerprint.objects.get(asset=outcome.asset)
    assert fingerprint.error == ""
    assert "imagehash=" in fingerprint.hash_version and "pillow=" in fingerprint.hash_version
    bands = [fingerprint.phash_b0, fingerprint.phash_b1, fingerprint.phash_b2, fingerprint.phash_b3]
    assert ((fingerprint.phash & ((1 << 64) - 1)) >> 48) == bands[0]
    assert all(0 <= band < 1 << 16 for band in bands)


def test_flat_images_are_kept_out_of_near_search(collection):
    flat = make_image("grey", pattern=False)
    first = ingest_bytes(image_bytes(flat), collection=collection, path="grey.jpg")
    other = ingest_bytes(
        image_bytes(make_image("silver", pattern=False)), collection=collection, path="silver.jpg"
    )

    assert Fingerprint.objects.get(asset=first.asset).low_information is True
    assert other.findings["possible_duplicates"] == []


def test_the_fingerprint_task_is_idempotent(collection):
    outcome = ingest_bytes(image_bytes(make_scene(4)), collection=collection)
    before = Fingerprint.objects.get(asset=outcome.asset)

    assert asset_fingerprint_task(outcome.asset.pk) == "current"
    assert Fingerprint.objects.get(asset=outcome.asset).computed_at == before.computed_at

    Fingerprint.objects.filter(pk=before.pk).update(hash_version="old recipe")
    assert asset_fingerprint_task(outcome.asset.pk) == "computed"
    assert asset_fingerprint_task(outcome.asset.pk) == "current"
    assert Fingerprint.objects.filter(asset=outcome.asset).count() == 1


def test_the_ingest_command_fingerprints_with_workers(tmp_path):
    scene = make_scene(5)
    (tmp_path / "a.jpg").write_bytes(image_bytes(scene, quality=95))
    (tmp_path / "b.jpg").write_bytes(image_bytes(scene.resize((200, 150)), quality=60))
    (tmp_path / "c.jpg").write_bytes(image_bytes(make_scene(6)))
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    out = io.StringIO()

    call_command(
        "ingest", str(tmp_path), collection="Workers", workers=2, no_progress=True, stdout=out
    )

    assert "new: 3" in out.getvalue()
    assert "errors: 1" in out.getvalue()
    assert "possible duplicates flagged: 1" in out.getvalue()
    assert Fingerprint.objects.filter(error="").count() == 3
