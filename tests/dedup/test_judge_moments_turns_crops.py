"""Judgement v3 evidence on small generated images: fixed-camera moments, local edits,
turned or mirrored pixels without a tag, heavy crops and other aspect ratios."""

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import image_bytes, make_scene
from tests.dedup.judging import judged

STILL = make_scene(21, size=(384, 288))


def noisy(image: Image.Image, seed: int, sigma: float = 4.0) -> Image.Image:
    """The same view with fresh sensor noise, as each frame of a fixed camera has."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(
        0, sigma, (image.height, image.width, 3)
    )
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def frame(seed: int, *, objects: int = 3) -> Image.Image:
    """The still view with people walking through: dark upright figures at random places."""
    rng = random.Random(seed)
    image = STILL.copy()
    draw = ImageDraw.Draw(image)
    w, h = image.size
    for _ in range(objects):
        x, y = rng.randrange(10, w - 50), rng.randrange(10, h - 90)
        colour = tuple(rng.randrange(40, 200) for _ in range(3))
        draw.rectangle([x, y + 20, x + 28, y + 80], fill=colour)
        draw.ellipse([x + 4, y, x + 24, y + 20], fill=colour)
    return noisy(image, seed)


def watermarked(image: Image.Image) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=22)
    ImageDraw.Draw(layer).text((200, 250), "(c) Archive", fill=(255, 255, 255, 190), font=font)
    return Image.alpha_composite(base, layer).convert("RGB")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_frames_of_a_fixed_camera_are_moments_not_derivatives(seed):
    verdict = judged(
        image_bytes(frame(seed), quality=90), image_bytes(frame(seed + 100), quality=90)
    )

    pixels = verdict.evidence["pixels"]
    assert verdict.kind == "similar"
    assert verdict.evidence["reason"].startswith("same viewpoint, different moment")
    assert pixels["regions"] >= 1 and pixels["crop_percent"] < 2


def figures(places) -> Image.Image:
    image = STILL.copy()
    draw = ImageDraw.Draw(image)
    for x, y in places:
        draw.rectangle([x, y + 16, x + 26, y + 64], fill=(30, 30, 30))
        draw.ellipse([x + 3, y, x + 23, y + 18], fill=(30, 30, 30))
    return image


def test_separate_changes_at_high_ssim_are_moments_one_region_is_an_edit():
    # Noise-free and alike almost everywhere: only where and how many regions differ.
    empty = figures([])
    two = judged(image_bytes(empty, "PNG"), image_bytes(figures([(60, 200), (300, 40)]), "PNG"))
    one = judged(image_bytes(empty, "PNG"), image_bytes(figures([(300, 40)]), "PNG"))

    assert two.evidence["pixels"]["ssim"] >= 0.9 and two.evidence["pixels"]["regions"] == 2
    assert two.kind == "similar"
    assert two.evidence["reason"] == "same viewpoint, different moment: 2 regions changed"
    assert one.kind == "derivative" and one.evidence["pixels"]["regions"] == 1


def test_a_watermark_is_one_compact_region_and_stays_a_derivative():
    still = noisy(STILL, 7)

    verdict = judged(image_bytes(still, quality=92), image_bytes(watermarked(still), quality=85))

    pixels = verdict.evidence["pixels"]
    assert verdict.kind == "derivative"
    assert 1 <= pixels["blocks_differing"] and pixels["regions"] == 1
    assert "one compact region" in verdict.evidence["reason"]


@pytest.mark.parametrize(
    ("method", "words"),
    [
        (Image.Transpose.ROTATE_270, "rotated 90° clockwise"),
        (Image.Transpose.ROTATE_90, "rotated 90° counter-clockwise"),
        (Image.Transpose.ROTATE_180, "rotated 180°"),
        (Image.Transpose.FLIP_LEFT_RIGHT, "mirrored (left to right)"),
    ],
)
def test_turned_or_mirrored_pixels_without_a_tag_are_a_derivative(method, words):
    verdict = judged(image_bytes(STILL, "PNG"), image_bytes(STILL.transpose(method), "PNG"))

    assert verdict.kind == "derivative"
    assert f"b is a {words} with no orientation tag" in verdict.evidence["reason"]
    assert verdict.evidence["pixels"]["identical"] is None  # never a pixel twin


@pytest.mark.parametrize("area_cut", [0.25, 0.40])
def test_a_heavy_crop_is_a_derivative(area_cut):
    kept = (1 - area_cut) ** 0.5
    w, h = STILL.size
    box = (round(w * (1 - kept) * 0.3), round(h * (1 - kept) * 0.7))
    cropped = STILL.crop((*box, box[0] + round(w * kept), box[1] + round(h * kept)))

    verdict = judged(image_bytes(STILL, quality=92), image_bytes(cropped, quality=92))

    assert verdict.kind == "derivative"
    assert "b is cropped from a" in verdict.evidence["reason"]
    assert verdict.evidence["pixels"]["crop_percent"] == pytest.approx(100 * area_cut, abs=4)


def test_another_aspect_ratio_of_one_design_is_a_derivative():
    w, h = STILL.size  # 4:3
    portrait = STILL.crop(((w - h * 3 // 4) // 2, 0, (w + h * 3 // 4) // 2, h))  # 3:4

    verdict = judged(image_bytes(STILL, quality=92), image_bytes(portrait, quality=92))

    assert verdict.kind == "derivative"
    assert "of the width removed" in verdict.evidence["reason"]


def test_unrelated_pictures_stay_apart_under_the_wider_search():
    for seed in range(30, 36):
        verdict = judged(image_bytes(STILL), image_bytes(make_scene(seed, size=(384, 288))))
        assert verdict.kind == "similar"


def test_two_scans_of_one_print_are_flagged_never_as_twins():
    def scan(angle: float, ev_gain: float, seed: int) -> Image.Image:
        turned = STILL.rotate(angle, resample=Image.BICUBIC, fillcolor=(250, 250, 250))
        w, h = turned.size
        cropped = turned.crop((6, 4, w - 5, h - 6))
        brighter = Image.eval(cropped, lambda v: min(255, round(v * ev_gain)))
        return noisy(brighter, seed, sigma=2.0)

    verdict = judged(
        image_bytes(scan(2.0, 1.05, 1), quality=88), image_bytes(scan(0.0, 0.97, 2), quality=88)
    )

    assert verdict.kind == "derivative"  # proven one picture, never a pixel twin
    assert verdict.evidence["pixels"]["identical"] is None
    assert verdict.evidence["pixels"]["tilt_degrees"] == -2.0
    assert "b is turned 2.0° clockwise (a re-scan" in verdict.evidence["reason"]
