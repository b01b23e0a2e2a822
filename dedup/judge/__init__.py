"""The verdict on a candidate pair: its kind and the evidence a reviewer sees.

This first judgement uses what the records already hold (hash distances, dimensions,
formats, sizes, EXIF); near matches are `similar` until stronger evidence proves more.
"""

from dataclasses import dataclass

from archive.models import Asset

LOSSLESS_FORMATS = {"PNG", "TIFF", "BMP", "GIF", "PPM"}


@dataclass(frozen=True)
class Verdict:
    kind: str
    evidence: dict


def _side(asset: Asset) -> dict:
    return {
        "width": asset.width,
        "height": asset.height,
        "pixels": asset.pixel_count,
        "format": asset.format,
        "lossless": asset.format in LOSSLESS_FORMATS,
        "size": asset.size,
    }


def pair_judge(
    *, asset_a: Asset, asset_b: Asset, phash_distance: int, dhash_distance: int
) -> Verdict:
    """Judge a pair from its records; same bytes are exact, anything else similar."""
    a, b = _side(asset_a), _side(asset_b)
    larger = "a" if a["pixels"] > b["pixels"] else "b" if b["pixels"] > a["pixels"] else "same"
    evidence = {
        "distances": {"phash": phash_distance, "dhash": dhash_distance},
        "a": a,
        "b": b,
        "aspect_ratio": {
            "a": round(a["width"] / a["height"], 4),
            "b": round(b["width"] / b["height"], 4),
        },
        "larger": larger,
    }
    if asset_a.sha256 == asset_b.sha256:
        return Verdict("exact", {**evidence, "reason": "same bytes"})
    reason = f"perceptual hashes {phash_distance} bits apart (pHash), {dhash_distance} (dHash)"
    return Verdict("similar", {**evidence, "reason": reason})
