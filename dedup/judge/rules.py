"""The decision: a pair's kind and a plain-language reason, read off its evidence.

Order matters. Same bytes are `exact`; decoded pixels proven equal are `pixel`, whatever
the metadata says. Otherwise EXIF that shows two captures (a burst, a bracket, another
camera) makes the pair `similar` even when the pixels look alike, because a burst of a
still scene looks like a crop of itself. Without such EXIF the aligned pixels decide:
the same picture everywhere (allowing a small local edit such as a watermark) is a
`derivative`; a shift in brightness or colour, or differences spread over the picture,
make it `similar`.
"""

from __future__ import annotations

from dedup.judge.exif import exif_signal
from dedup.judge.pixels import GREY_CHROMA, SWAPPING_TURNS

# Aligned luma SSIM from which two images show the same picture; measured copies
# (recompressed to quality 40, a quarter of the size, cropped by 10 %) stay above 0.95,
# stereo views and neighbouring frames fall well below.
SAME_PICTURE_SSIM = 0.90
# Below this aligned SSIM the structure differs too much to call two images one design.
SAME_DESIGN_SSIM = 0.75
# Differences confined to some regions of a still alike picture: things moved.
MOVED_MIN_SSIM = 0.4
MOVED_MAX_SHARE = 0.6
# Blocks that differ in at most this share of the picture are a local edit (watermark,
# retouch); a larger share is movement between frames or viewpoints.
LOCAL_EDIT_SHARE = 0.10
# A global exposure change at least this large is a bracket or a light/dark variant;
# greyscale editions often remap tones, so against one the bar is higher.
BRIGHTNESS_EV = 0.5
GREYSCALE_BRIGHTNESS_EV = 1.0
# Mean Cb/Cr distance between aligned pixels of two colour images that makes them
# colour variants; recompression and resizing stay under 5.
COLOUR_SHIFT = 10.0
SCALE_TOLERANCE = 0.03
CROP_TOLERANCE = 0.005
# A local edit (watermark, retouch, logo) changes one compact region; a fixed camera's
# frames taken moments apart differ wherever something moved: several separate regions.
MOMENT_MIN_REGIONS = 2
# Pairs compared over nearly the whole frame (crop below this per cent of the area) and
# differing in regions are the same viewpoint at another moment.
SAME_VIEW_CROP_PERCENT = 2.0
# Alignments cutting at least this share of the area are read only as the same picture or
# different pictures.
HEAVY_CROP_PERCENT = 20.0
TURN_REASONS = {
    "rot90": "rotated 90° clockwise",
    "rot180": "rotated 180°",
    "rot270": "rotated 90° counter-clockwise",
    "mirror": "mirrored (left to right)",
    "flip": "mirrored (top to bottom)",
    "transpose": "mirrored across its diagonal (transposed)",
    "transverse": "mirrored across its anti-diagonal (transverse)",
}


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _scene_scale(evidence: dict) -> float:
    """How large b shows the scene relative to a (1.0: same size, 0.5: half)."""
    pixels, a, b = evidence["pixels"], evidence["a"], evidence["b"]
    left, _top, right, _bottom = pixels["crop_box"]
    kept = right - left
    # b's pixels were turned back before aligning: its height is then the width compared.
    width_b = b["height"] if pixels.get("turn") in SWAPPING_TURNS else b["width"]
    if pixels.get("inner") == "b":
        return width_b / (a["width"] * kept)
    if pixels.get("inner") == "a":
        return width_b * kept / a["width"]
    return width_b / a["width"]


def _scale_reason(evidence: dict) -> str | None:
    scale = _scene_scale(evidence)
    if scale < 1 - SCALE_TOLERANCE:
        return f"b is a {_percent(scale)} downscale of a"
    if scale > 1 + SCALE_TOLERANCE:
        return f"a is a {_percent(1 / scale)} downscale of b"
    return None


def _crop_reason(pixels: dict) -> str | None:
    inner = pixels.get("inner")
    if inner is None:
        return None
    left, top, right, bottom = pixels["crop_box"]
    cut_w, cut_h = 1 - (right - left), 1 - (bottom - top)
    outer = "a" if inner == "b" else "b"
    cuts = [
        f"{_percent(cut)} of the {what}"
        for cut, what in ((cut_w, "width"), (cut_h, "height"))
        if cut >= CROP_TOLERANCE
    ]
    return f"{inner} is cropped from {outer} ({' and '.join(cuts)} removed)" if cuts else None


def _greyscale_reason(pixels: dict) -> str | None:
    chroma_a, chroma_b = pixels["chroma_a"], pixels["chroma_b"]
    if chroma_b < GREY_CHROMA <= chroma_a / 2:
        return "b is greyscale"
    if chroma_a < GREY_CHROMA <= chroma_b / 2:
        return "a is greyscale"
    return None


def _orientation_reason(exif: dict) -> str | None:
    tag_a, tag_b = exif["orientation_a"], exif["orientation_b"]
    if tag_a == tag_b:
        return None
    tagged, plain = ("b", "a") if tag_b != 1 else ("a", "b")
    return f"{tagged} carries an EXIF orientation tag, {plain} stores the pixels rotated"


def _encoding_reason(evidence: dict) -> str | None:
    a, b = evidence["a"], evidence["b"]
    if a["format"] != b["format"]:
        return f"converted: {a['format']} vs {b['format']}"
    if a["lossless"] and b["lossless"]:
        return None
    quality_a, quality_b = a.get("jpeg_quality"), b.get("jpeg_quality")
    if quality_a and quality_b and quality_a != quality_b:
        return f"recompressed ({a['format']} quality ~{quality_a} vs ~{quality_b})"
    return "recompressed" if a["size"] != b["size"] else None


def _turn_reason(pixels: dict) -> str | None:
    turn = pixels.get("turn")
    if turn is None:
        return None
    return f"b is a {TURN_REASONS[turn]} with no orientation tag"


def _tilt_reason(pixels: dict) -> str | None:
    tilt = pixels.get("tilt_degrees")
    if not tilt:
        return None
    way = "counter-clockwise" if tilt > 0 else "clockwise"
    return f"b is turned {abs(tilt):.1f}° {way} (a re-scan or a straightened copy)"


def _local_reason(pixels: dict) -> str | None:
    if not pixels["blocks_differing"]:
        return None
    return (
        f"local difference in {pixels['blocks_differing']} of {pixels['blocks']} blocks, "
        "one compact region (a watermark or retouch)"
    )


def derivative_reason(evidence: dict) -> str:
    """Describe how the two copies of one picture differ."""
    pixels = evidence["pixels"]
    parts = [
        _turn_reason(pixels),
        _tilt_reason(pixels),
        _scale_reason(evidence),
        _crop_reason(pixels),
        _greyscale_reason(pixels),
        _orientation_reason(evidence["exif"]),
        _encoding_reason(evidence),
        _local_reason(pixels),
    ]
    found = [p for p in parts if p]
    return "; ".join(found) if found else "same picture, re-encoded"


def _colour_variant(pixels: dict) -> bool:
    both_colour = min(pixels["chroma_a"], pixels["chroma_b"]) >= 2 * GREY_CHROMA
    return both_colour and pixels["chroma_difference"] >= COLOUR_SHIFT


def _regions(count: int) -> str:
    return "1 region" if count == 1 else f"{count} regions"


def look_alike_reason(pixels: dict) -> str | None:
    """Why aligned pixels show a different photograph, or None if they show the same one."""
    if not pixels.get("aligned"):
        return "framing differs beyond a light crop or rescale"
    shift, ssim = pixels["luma_shift_ev"], pixels["ssim"]
    if pixels.get("crop_percent", 0.0) >= HEAVY_CROP_PERCENT and ssim < SAME_DESIGN_SSIM:
        # A window a fifth of the area smaller matches something in almost any picture:
        # only a close match says more than "different".
        crop = pixels["crop_percent"]
        return f"different pictures (aligned SSIM {ssim:.2f} over a {crop:.0f} % crop)"
    limit = GREYSCALE_BRIGHTNESS_EV if _greyscale_reason(pixels) else BRIGHTNESS_EV
    if abs(shift) >= limit:
        return f"brightness differs by {abs(shift):.1f} EV: an exposure or light/dark variant"
    if _colour_variant(pixels) and ssim >= SAME_DESIGN_SSIM:
        return "same design in different colours: a colour variant"
    differing, blocks = pixels["blocks_differing"], pixels["blocks"]
    # Evidence from before region counting has no "regions": one region assumed.
    regions = pixels.get("regions", 1 if differing else 0)
    same_view = pixels.get("crop_percent", 100.0) < SAME_VIEW_CROP_PERCENT
    if ssim >= SAME_PICTURE_SSIM and differing <= LOCAL_EDIT_SHARE * blocks:
        if regions < MOMENT_MIN_REGIONS:
            return None
        if same_view:
            return f"same viewpoint, different moment: {_regions(regions)} changed"
        return f"{regions} separate regions changed: things moved (a neighbouring frame)"
    if ssim >= MOVED_MIN_SSIM and 0 < differing <= MOVED_MAX_SHARE * blocks and regions:
        if same_view:
            return (
                f"same viewpoint, different moment: {_regions(regions)} changed "
                f"({differing} of {blocks} blocks)"
            )
        return (
            f"local differences in {differing} of {blocks} blocks ({_regions(regions)}): things "
            "moved (a neighbouring frame or another viewpoint)"
        )
    return f"different pictures (aligned SSIM {ssim:.2f})"


def _identical_reason(evidence: dict) -> str:
    a, b = evidence["a"], evidence["b"]
    if a["format"] != b["format"]:
        return f"same pixels, {a['format']} vs {b['format']}"
    return "same pixels, different metadata"


def kind_decide(*, evidence: dict, same_bytes: bool) -> tuple[str, str]:
    """(kind, reason) for a pair from its evidence."""
    if same_bytes:
        return "exact", "same bytes"
    pixels = evidence.get("pixels") or {}
    if pixels.get("identical") is True:
        return "pixel", _identical_reason(evidence)
    signal = exif_signal(facts=evidence["exif"])
    if signal and signal[0] == "different capture":
        return "similar", signal[1]
    if "ssim" not in pixels and pixels.get("aligned") is not False:
        hashes = evidence["distances"]
        note = pixels.get("error", "pixels not compared")
        return "similar", (
            f"perceptual hashes {hashes['phash']} bits apart (pHash), {hashes['dhash']} "
            f"(dHash); {note}"
        )
    different = look_alike_reason(pixels)
    if different is not None:
        prefix = f"{signal[1]}, but " if signal else ""
        return "similar", prefix + different
    reason = derivative_reason(evidence)
    return "derivative", f"{reason}; {signal[1]}" if signal else reason
