"""Turned, mirrored and heavily cropped copies are found at ingest through variant hashes."""

import pytest
from PIL import Image

from dedup.models import DuplicateCandidate, FingerprintVariant
from dedup.report import report_build
from dedup.services import scan_incremental
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

SCENE = make_scene(52, size=(384, 288))


def _crop(image: Image.Image, area_cut: float) -> Image.Image:
    kept = (1 - area_cut) ** 0.5
    w, h = image.size
    left, top = round(w * (1 - kept) * 0.8), round(h * (1 - kept) * 0.2)
    return image.crop((left, top, left + round(w * kept), top + round(h * kept)))


@pytest.mark.parametrize(
    ("copy", "words"),
    [
        (SCENE.transpose(Image.Transpose.ROTATE_270), "rotated 90°"),
        (SCENE.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "mirrored"),
        (_crop(SCENE, 0.35), "cropped from"),
    ],
)
@pytest.mark.parametrize("copy_first", [False, True])
def test_the_copy_is_flagged_at_ingest_in_either_order(collection, copy, words, copy_first):
    files = [("original.png", SCENE), ("copy.png", copy)]
    if copy_first:
        files.reverse()
    for path, image in files:
        ingest_bytes(image_bytes(image, "PNG"), collection=collection, path=path)
    at_ingest = DuplicateCandidate.objects.count()
    scan_incremental()

    candidate = DuplicateCandidate.objects.get()
    # Turned and mirrored copies are found at ingest in either order, crops when they
    # arrive after their original; the rolling scan finds an original after its crop.
    assert at_ingest == (0 if copy_first and words == "cropped from" else 1)
    assert candidate.kind == "derivative"
    assert words in candidate.evidence["reason"]
    # The read-only report lists the same pair.
    listed = report_build()
    assert [(r["a"]["id"], r["b"]["id"]) for r in listed["pairs"]] == [
        (candidate.asset_a_id, candidate.asset_b_id)
    ]


def test_variants_are_stored_with_the_fingerprint_and_replaced_with_it(collection):
    outcome = ingest_bytes(image_bytes(SCENE, "PNG"), collection=collection, path="a.png")

    names = set(FingerprintVariant.objects.values_list("variant", flat=True))
    assert {"rot90", "rot180", "rot270", "mirror"} <= names
    assert any(name.startswith("grid") for name in names)
    assert FingerprintVariant.objects.filter(asset=outcome.asset).count() == len(names)
