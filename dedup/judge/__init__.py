"""The verdict on a candidate pair: its kind (exact, pixel, derivative, similar) and evidence.

`files_judge` is the one judgement: it takes two opened files and what is known about
them, so stored assets (`pair_judge`), folders that were never ingested and the accuracy
benchmark all go through the same code. The evidence keys are documented in
docs/report-format.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image

from archive.imaging import ROTATING_ORIENTATIONS, exif_extract
from archive.storage import bytes_open, digest_file
from dedup.judge.exif import exif_compare
from dedup.judge.pixels import DECODE_ERRORS, compare, decode_reduced, pixels_identical
from dedup.judge.rules import kind_decide
from dedup.judge.sides import PairSide, records_evidence, side_encoding

if TYPE_CHECKING:
    from archive.models import Asset

logger = logging.getLogger(__name__)

JUDGE_VERSION = "judge/v3"
# Full-size decodes prove pixel identity only for pairs this close already: the same
# displayed dimensions and frame count, near-equal hashes, the same framing and a reduced
# view alike everywhere. (Reduced views of identical pixels still differ a little when one
# file is a JPEG, whose reduced decode scales DCT blocks instead of pixels.)
IDENTITY_MAX_DISTANCE = 8
IDENTITY_MAX_CROP_PERCENT = 1.0
IDENTITY_MIN_SSIM = 0.97
# Candidate rule, second tier: pairs found beyond KEEPSAKE_NEAR_DISTANCE (and up to this
# pHash distance) are kept only when the judgement proves one picture. Crops of 5-10 %
# move pHash by 10-20 bits, while hash collisions between unrelated photos at that
# distance are common enough that flagging them unverified would flood the queue.
VERIFY_DISTANCE = 16
# A main pHash this close to a variant of the other picture (its pixels turned or mirrored,
# a window for heavy crops and other aspect ratios: dedup.imaging.DIHEDRAL, windows_of)
# makes a candidate too; such pairs must likewise prove one picture.
VARIANT_DISTANCE = 12
VERIFIED_KINDS = frozenset({"exact", "pixel", "derivative"})

__all__ = [
    "JUDGE_VERSION",
    "VARIANT_DISTANCE",
    "VERIFY_DISTANCE",
    "PairSide",
    "Verdict",
    "candidate_keep",
    "file_side",
    "files_judge",
    "pair_judge",
    "pair_judge_records",
    "records_judge",
]


@dataclass(frozen=True)
class Verdict:
    kind: str
    evidence: dict


def candidate_keep(*, kind: str, phash_distance: int, near: int | None = None) -> bool:
    """Whether a judged pair belongs in the review queue under the two-tier candidate rule."""
    if near is None:
        from django.conf import settings

        near = settings.KEEPSAKE_NEAR_DISTANCE
    return phash_distance <= near or kind in VERIFIED_KINDS


def asset_side(asset: Asset) -> PairSide:
    """The judgement's view of a stored asset (its dimensions are already as displayed)."""
    return PairSide(
        sha256=asset.sha256,
        width=asset.width,
        height=asset.height,
        format=asset.format,
        size=asset.size,
        mode=asset.colour_mode,
        frames=asset.frame_count,
        exif=asset.exif or {},
    )


def file_side(*, fp: BinaryIO) -> PairSide:
    """The judgement's view of a file that was never ingested, read from its header."""
    sha256, size = digest_file(fp)
    with Image.open(fp) as im:
        width, height = im.size
        facts = (im.format or "", im.mode, int(getattr(im, "n_frames", 1)), exif_extract(im))
    fmt, mode, frames, exif = facts
    if exif.get("Orientation") in ROTATING_ORIENTATIONS:
        width, height = height, width  # as displayed, like Asset.width/height
    return PairSide(
        sha256=sha256,
        width=width,
        height=height,
        format=fmt,
        size=size,
        mode=mode,
        frames=frames,
        exif=exif,
    )


def _base_evidence(*, side_a: PairSide, side_b: PairSide, phash: int, dhash: int) -> dict:
    evidence = records_evidence(side_a=side_a, side_b=side_b, phash=phash, dhash=dhash)
    evidence["exif"] = exif_compare(exif_a=side_a.exif, exif_b=side_b.exif)
    return evidence


def _finish(*, evidence: dict, same_bytes: bool, judged_by: str) -> Verdict:
    kind, reason = kind_decide(evidence=evidence, same_bytes=same_bytes)
    evidence.update(reason=reason, judged_by=judged_by, judge_version=JUDGE_VERSION)
    return Verdict(kind, evidence)


def records_judge(
    *, side_a: PairSide, side_b: PairSide, phash_distance: int, dhash_distance: int, note: str = ""
) -> Verdict:
    """Judge from records and EXIF alone, without opening either file."""
    evidence = _base_evidence(
        side_a=side_a, side_b=side_b, phash=phash_distance, dhash=dhash_distance
    )
    evidence["pixels"] = {"error": note or "pixels not compared"}
    same = side_a.sha256 == side_b.sha256
    return _finish(evidence=evidence, same_bytes=same, judged_by="records")


def _identity_plausible(*, side_a: PairSide, side_b: PairSide, evidence: dict) -> bool:
    pixels, distances = evidence["pixels"], evidence["distances"]
    return (
        (side_a.width, side_a.height, side_a.frames) == (side_b.width, side_b.height, side_b.frames)
        and max(distances["phash"], distances["dhash"]) <= IDENTITY_MAX_DISTANCE
        and pixels.get("crop_percent", 100.0) < IDENTITY_MAX_CROP_PERCENT
        and pixels.get("ssim", 0.0) >= IDENTITY_MIN_SSIM
    )


def _pixel_evidence(*, side_a: PairSide, side_b: PairSide, fp_a, fp_b, evidence: dict) -> None:
    evidence["a"].update(side_encoding(side=side_a, fp=fp_a))
    evidence["b"].update(side_encoding(side=side_b, fp=fp_b))
    evidence["pixels"] = compare(a=decode_reduced(fp=fp_a), b=decode_reduced(fp=fp_b))
    identical = None
    if _identity_plausible(side_a=side_a, side_b=side_b, evidence=evidence):
        # Only now are both files decoded at full size.
        identical = pixels_identical(fp_a=fp_a, fp_b=fp_b)
    evidence["pixels"]["identical"] = identical


def files_judge(
    *,
    side_a: PairSide,
    side_b: PairSide,
    fp_a: BinaryIO,
    fp_b: BinaryIO,
    phash_distance: int,
    dhash_distance: int,
) -> Verdict:
    """Judge a pair from its records, its EXIF and the decoded pixels of both files."""
    if side_a.sha256 == side_b.sha256:
        return records_judge(
            side_a=side_a,
            side_b=side_b,
            phash_distance=phash_distance,
            dhash_distance=dhash_distance,
            note="same bytes: nothing to compare",
        )
    evidence = _base_evidence(
        side_a=side_a, side_b=side_b, phash=phash_distance, dhash=dhash_distance
    )
    try:
        _pixel_evidence(side_a=side_a, side_b=side_b, fp_a=fp_a, fp_b=fp_b, evidence=evidence)
    except (*DECODE_ERRORS, Image.DecompressionBombError) as exc:
        # A file that decoded at ingest but not now is itself worth a reviewer's eye.
        evidence["pixels"] = {"error": f"pixels not compared: {exc}"}
        return _finish(evidence=evidence, same_bytes=False, judged_by="records")
    return _finish(evidence=evidence, same_bytes=False, judged_by="pixels")


def pair_judge_records(
    *, asset_a: Asset, asset_b: Asset, phash_distance: int, dhash_distance: int
) -> Verdict:
    """Judge two stored assets from their records and EXIF only, without reading bytes."""
    return records_judge(
        side_a=asset_side(asset_a),
        side_b=asset_side(asset_b),
        phash_distance=phash_distance,
        dhash_distance=dhash_distance,
        note="pixels not compared (report budget spent)",
    )


def pair_judge(
    *, asset_a: Asset, asset_b: Asset, phash_distance: int, dhash_distance: int
) -> Verdict:
    """Judge two stored assets, reading their bytes from storage."""
    side_a, side_b = asset_side(asset_a), asset_side(asset_b)
    if side_a.sha256 == side_b.sha256:
        return records_judge(
            side_a=side_a,
            side_b=side_b,
            phash_distance=phash_distance,
            dhash_distance=dhash_distance,
            note="same bytes: nothing to compare",
        )
    try:
        with (
            bytes_open(alias=asset_a.storage_alias, key=asset_a.storage_key) as fp_a,
            bytes_open(alias=asset_b.storage_alias, key=asset_b.storage_key) as fp_b,
        ):
            return files_judge(
                side_a=side_a,
                side_b=side_b,
                fp_a=fp_a,
                fp_b=fp_b,
                phash_distance=phash_distance,
                dhash_distance=dhash_distance,
            )
    except OSError as exc:
        note = f"stored bytes unreadable: {exc}"
    except Exception as exc:
        # The judgement runs inside the ingest transaction: a flaw in it must cost the
        # pair its pixel evidence, never the ingest of a valid file.
        logger.exception("judging assets %s and %s failed", asset_a.pk, asset_b.pk)
        note = f"pixels not compared: {type(exc).__name__}"
    return records_judge(
        side_a=side_a,
        side_b=side_b,
        phash_distance=phash_distance,
        dhash_distance=dhash_distance,
        note=note,
    )
