"""The judgement of a pair: each kind, and each EXIF signal, on small generated images."""

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dedup.models import DuplicateCandidate
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene
from tests.dedup.judging import camera_exif, jpeg_with_exif, judged

SCENE = make_scene(7)


def exposed(image: Image.Image, ev: float) -> Image.Image:
    linear = (np.asarray(image, dtype=np.float64) / 255.0) ** 2.2 * 2.0**ev
    return Image.fromarray(np.round(np.clip(linear, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8))


def circles(shift: int) -> Image.Image:
    """Ten discs on a gradient; every other disc moved `shift` pixels to the right."""
    image = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    draw, rng = ImageDraw.Draw(image), random.Random(3)
    for i in range(10):
        x, y = rng.randrange(280), rng.randrange(200)
        colour = tuple(rng.randrange(256) for _ in range(3))
        dx = shift if i % 2 else 0
        draw.ellipse([x + dx, y, x + dx + 40, y + 40], fill=colour)
    return image


class TestKinds:
    def test_same_bytes_are_exact(self):
        data = image_bytes(SCENE)

        verdict = judged(data, data)

        assert (verdict.kind, verdict.evidence["reason"]) == ("exact", "same bytes")

    def test_the_same_pixels_in_another_container_are_pixel(self):
        verdict = judged(image_bytes(SCENE, "PNG"), image_bytes(SCENE, "BMP"))

        assert verdict.kind == "pixel"
        assert verdict.evidence["reason"] == "same pixels, PNG vs BMP"
        assert verdict.evidence["pixels"]["identical"] is True

    def test_a_jpeg_with_rewritten_exif_only_is_pixel(self):
        original = image_bytes(SCENE, quality=92, exif=camera_exif())

        verdict = judged(original, jpeg_with_exif(original, camera_exif(serial="other")))

        assert verdict.kind == "pixel"
        assert verdict.evidence["reason"] == "same pixels, different metadata"

    def test_a_half_size_copy_is_a_derivative_named_by_its_scale(self):
        verdict = judged(image_bytes(SCENE, quality=92), image_bytes(SCENE.resize((160, 120))))

        assert verdict.kind == "derivative"
        assert "b is a 50 % downscale of a" in verdict.evidence["reason"]
        assert verdict.evidence["larger"] == "a"

    def test_a_five_percent_crop_is_a_derivative(self):
        cropped = SCENE.crop((5, 4, 309, 232))  # 5 % of each side's length removed

        verdict = judged(image_bytes(SCENE, quality=92), image_bytes(cropped, quality=90))

        assert verdict.kind == "derivative"
        assert (
            "b is cropped from a (5 % of the width and 5 % of the height"
            in (verdict.evidence["reason"])
        )
        assert verdict.evidence["pixels"]["ssim"] > 0.95

    def test_a_greyscale_copy_is_a_derivative(self):
        verdict = judged(image_bytes(SCENE, quality=92), image_bytes(SCENE.convert("L")))

        assert verdict.kind == "derivative"
        assert "b is greyscale" in verdict.evidence["reason"]

    def test_rotated_pixels_against_an_orientation_tag(self):
        stored = SCENE.transpose(Image.Transpose.ROTATE_90)  # tag 6 turns it back
        tagged = camera_exif(orientation=6)

        lossless = judged(image_bytes(SCENE, "PNG"), image_bytes(stored, "PNG", exif=tagged))
        lossy = judged(image_bytes(SCENE, quality=92), image_bytes(stored, exif=tagged))

        assert lossless.kind == "pixel"
        assert lossy.kind == "derivative"
        assert "b carries an EXIF orientation tag" in lossy.evidence["reason"]

    def test_a_watermark_is_a_local_edit_of_the_same_picture(self):
        marked = SCENE.copy()
        ImageDraw.Draw(marked).text((200, 215), "(c) Keepsake", fill="white")

        verdict = judged(image_bytes(SCENE, quality=92), image_bytes(marked, quality=92))

        assert verdict.kind == "derivative"

    def test_moved_objects_are_similar(self):
        verdict = judged(image_bytes(circles(0), quality=92), image_bytes(circles(14), quality=92))

        assert verdict.kind == "similar"
        assert "same viewpoint, different moment" in verdict.evidence["reason"]

    def test_a_colour_variant_of_a_design_is_similar(self):
        swapped = Image.merge("RGB", SCENE.split()[::-1])

        verdict = judged(image_bytes(SCENE, "PNG"), image_bytes(swapped, "PNG"))

        assert verdict.kind == "similar"
        assert "colour variant" in verdict.evidence["reason"]

    def test_unrelated_pictures_are_similar_at_most(self):
        verdict = judged(image_bytes(SCENE), image_bytes(make_scene(8)))

        assert verdict.kind == "similar"
        assert verdict.evidence["reason"].startswith("different pictures")


class TestExifSignals:
    def test_a_burst_from_one_body_is_similar(self):
        wide = make_scene(7, size=(400, 300))
        first = wide.crop((0, 0, 320, 240))
        second = wide.crop((12, 6, 332, 246))

        verdict = judged(
            image_bytes(first, exif=camera_exif(subsec="100")),
            image_bytes(second, exif=camera_exif(subsec="400")),
        )

        assert verdict.kind == "similar"
        assert verdict.evidence["reason"] == "same camera, 0.3 s apart: burst"
        assert verdict.evidence["exif"]["seconds_apart"] == 0.3
        assert verdict.evidence["exif"]["same_body"] is True

    def test_a_zooming_burst_is_similar_even_though_one_frame_crops_the_other(self):
        zoomed = SCENE.crop((16, 12, 304, 228))

        verdict = judged(
            image_bytes(SCENE, exif=camera_exif(subsec="000")),
            image_bytes(zoomed, exif=camera_exif(subsec="250")),
        )

        assert verdict.kind == "similar"
        assert "burst" in verdict.evidence["reason"]

    def test_a_bracket_is_similar(self):
        verdict = judged(
            image_bytes(exposed(SCENE, -1), exif=camera_exif(subsec="10", bias=-1)),
            image_bytes(exposed(SCENE, 1), exif=camera_exif(subsec="20", bias=1)),
        )

        assert verdict.kind == "similar"
        assert verdict.evidence["reason"] == (
            "exposure bias \u22121 EV vs +1 EV within the same second: bracket"
        )

    def test_a_shutter_bracket_without_bias_is_similar(self):
        verdict = judged(
            image_bytes(exposed(SCENE, -1), exif=camera_exif(subsec="10", exposure=(1, 500))),
            image_bytes(SCENE, exif=camera_exif(subsec="20", exposure=(1, 250))),
        )

        assert verdict.kind == "similar"
        assert "bracket" in verdict.evidence["reason"]

    def test_frame_counters_of_one_camera_make_a_series(self):
        verdict = judged(
            image_bytes(SCENE, exif=camera_exif(number=41)),
            image_bytes(SCENE.crop((8, 6, 312, 234)), exif=camera_exif(number=42)),
        )

        assert verdict.kind == "similar"
        assert verdict.evidence["reason"] == "same camera, frames 41 and 42: series"

    def test_equal_image_unique_ids_are_the_same_capture(self):
        exif = camera_exif(unique_id="a1b2c3d4e5f6")

        verdict = judged(
            image_bytes(SCENE, quality=92, exif=exif),
            image_bytes(SCENE.resize((160, 120)), exif=exif),
        )

        assert verdict.kind == "derivative"
        assert verdict.evidence["reason"].endswith("same capture (equal ImageUniqueID)")
        assert verdict.evidence["exif"]["same_image_unique_id"] is True

    def test_different_image_unique_ids_are_different_captures(self):
        verdict = judged(
            image_bytes(SCENE, quality=92, exif=camera_exif(unique_id="a1b2c3d4e5f6")),
            image_bytes(SCENE.resize((160, 120)), exif=camera_exif(unique_id="ffeeddccbbaa")),
        )

        assert verdict.kind == "similar"
        assert "different ImageUniqueID" in verdict.evidence["reason"]

    def test_different_bodies_are_different_captures(self):
        verdict = judged(
            image_bytes(SCENE, quality=92, exif=camera_exif(serial="A-1")),
            image_bytes(SCENE.resize((160, 120)), exif=camera_exif(serial="B-2")),
        )

        assert verdict.kind == "similar"
        assert verdict.evidence["reason"] == "taken with different bodies (A-1 vs B-2)"

    def test_a_copy_that_lost_its_sub_seconds_is_not_a_burst(self):
        verdict = judged(
            image_bytes(SCENE, quality=92, exif=camera_exif(subsec="300")),
            image_bytes(SCENE.resize((160, 120)), exif=camera_exif()),
        )

        assert verdict.kind == "derivative"
        assert verdict.evidence["exif"]["seconds_apart"] == 0.0

    def test_a_time_zone_correction_is_not_another_capture(self):
        verdict = judged(
            image_bytes(SCENE, quality=92, exif=camera_exif(when="2024:05:01 10:00:00")),
            image_bytes(SCENE.resize((160, 120)), exif=camera_exif(when="2024:05:01 12:00:00")),
        )

        assert verdict.kind == "derivative"


@pytest.mark.django_db
def test_the_judgement_is_stored_with_the_candidate_at_ingest(collection):
    ingest_bytes(image_bytes(SCENE, quality=92), collection=collection, path="a.jpg")
    ingest_bytes(image_bytes(SCENE.resize((160, 120))), collection=collection, path="a-small.jpg")

    candidate = DuplicateCandidate.objects.get()

    assert candidate.kind == "derivative"
    assert candidate.evidence["judged_by"] == "pixels"
    assert "b is a 50 % downscale of a" in candidate.evidence["reason"]
