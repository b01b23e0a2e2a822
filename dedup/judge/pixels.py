"""Pixel evidence: two images aligned at a common small size, compared globally and locally.

Both files are decoded once at reduced scale (JPEG DCT scaling, box reduction otherwise),
oriented as displayed. One image is searched for inside the other over a range of crops
and scales, so a copy cropped by a few per cent lines up with its original; the aligned
pair is then compared with SSIM on luma, block by block, and on colour and brightness.
Full-size decodes happen only in `pixels_identical`, for pairs the small view already
shows to be the same picture.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

import imagehash
import numpy as np
from PIL import ExifTags, Image
from scipy import ndimage, signal

from dedup.imaging import DIHEDRAL, _normalise_mode, hash_to_int

# Smallest edge kept by the reduced decode: twice the comparison size, so resampling to
# the common size always averages several real pixels.
DECODE_EDGE = 256
# Longest edge of the aligned comparison, and of the template in the coarse search.
COMPARE_EDGE = 128
SEARCH_EDGE = 48
# A crop may keep as little as this fraction of the original's width or height: half of
# one side covers portrait and landscape renderings of one design, and crops of 40 % of
# the area keep about 77 % of each side.
MIN_KEPT = 0.50
# ... and at least this share of its area (a 40 % crop keeps 60 %, a 4:5 rendering of a
# 3:2 design 53 %).
MIN_AREA_KEPT = 0.50
# Kept-width steps of the coarse search, and of the fine search around its best width.
COARSE_STEP = 0.02
FINE_STEP = 0.005
FINE_SPAN = 4
FINE_EDGE = 96
# Coarse scores of the two directions (a inside b, b inside a) this close are both refined.
DIRECTION_MARGIN = 0.02
# Coordinate-descent step sizes (comparison pixels) and sweeps per step in the refinement.
REFINE_STEPS = (0.5, 0.25)
REFINE_SWEEPS = 1
# Blocks per comparison are about BLOCK_EDGE compare pixels square.
BLOCK_EDGE = 16
# A block whose SSIM falls below this differs in content, not in compression noise.
BLOCK_DIFFERS = 0.5
# Pixel-level change (changed_regions): local SSIM below CHANGE_SSIM and smoothed luma
# moved by more than CHANGE_LUMA (0-255); regions closer than CHANGE_BRIDGE comparison
# pixels merge, and regions of fewer than CHANGE_MIN_PIXELS changed pixels are ignored.
CHANGE_SSIM = 0.3
CHANGE_LUMA = 18.0
CHANGE_BRIDGE = 3
CHANGE_MIN_PIXELS = 6
CHANGE_LINE_BRIDGE = 6
# A copy turned by a degree or two (a re-scan, a straightened photo): tried when the aligned
# picture correlates but SSIM stays low; angles in degrees, compared over the centre.
TILT_ANGLES = (-3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
TILT_MIN_CORRELATION = 0.8
TILT_MIN_GAIN = 0.05
TILT_CENTRE = 0.86
# Mean chroma (Cb/Cr distance from neutral, 0-255 scale) below which an image is grey.
GREY_CHROMA = 2.5
# Turned or mirrored pixels (no orientation tag): the turn whose pHash is nearest is used
# when it is within TURN_MAX_DISTANCE bits and beats the pixels as stored by TURN_MARGIN.
TURN_MAX_DISTANCE = 12
TURN_MARGIN = 6
# Inverse of each turn (what undoes it); the others undo themselves.
TURN_INVERSE = {"rot90": "rot270", "rot270": "rot90"}
SWAPPING_TURNS = frozenset({"rot90", "rot270", "transpose", "transverse"})
SSIM_C1 = (0.01 * 255) ** 2
SSIM_C2 = (0.03 * 255) ** 2
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Alignment:
    """Where the inner image sits in the outer one, as fractions of the outer's frame."""

    inner: str  # "a" or "b"
    left: float
    top: float
    width: float
    height: float
    score: float

    def box(self, *, size: tuple[int, int]) -> tuple[float, float, float, float]:
        w, h = size
        return (
            self.left * w,
            self.top * h,
            (self.left + self.width) * w,
            (self.top + self.height) * h,
        )


def decode_reduced(*, fp: BinaryIO, edge: int = DECODE_EDGE) -> Image.Image:
    """Decode the first frame at reduced scale into an oriented RGB image."""
    fp.seek(0)
    with Image.open(fp) as im:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
        if im.format in ("JPEG", "MPO"):
            im.draft("RGB", (edge, edge))
        im.load()
        factor = min(im.width, im.height) // edge
        small = _normalise_mode(im=im)
        small = small.reduce(factor) if factor >= 2 else small
        rgb = small.convert("RGB")
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return rgb.transpose(method) if method is not None else rgb


def decode_full(*, fp: BinaryIO) -> Image.Image:
    """Decode the first frame at full size, oriented as displayed, in its own mode."""
    fp.seek(0)
    with Image.open(fp) as im:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
        im.load()
        full = im.copy()
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return full.transpose(method) if method is not None else full


def pixels_identical(*, fp_a: BinaryIO, fp_b: BinaryIO) -> bool:
    """Tell whether two files decode to exactly the same pixels, as displayed."""
    a, b = decode_full(fp=fp_a), decode_full(fp=fp_b)
    if a.size != b.size:
        return False
    if a.mode != b.mode:
        common = _common_mode(a=a, b=b)
        if common is None:
            return False
        a, b = a.convert(common), b.convert(common)
    return a.tobytes() == b.tobytes()


def _common_mode(*, a: Image.Image, b: Image.Image) -> str | None:
    """The mode both images convert to without loss, or None for different bit depths."""
    eight_bit = {"1", "L", "P", "RGB", "RGBA", "LA", "PA", "CMYK", "YCbCr", "RGBX"}
    if a.mode not in eight_bit or b.mode not in eight_bit:
        return None
    with_alpha = any(im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info for im in (a, b))
    return "RGBA" if with_alpha else "RGB"


def _luma(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L"), dtype=np.float64)


def _fit(*, size: tuple[int, int], edge: int) -> tuple[int, int]:
    """The size with the longest edge at most `edge`, keeping the aspect ratio."""
    w, h = size
    scale = min(1.0, edge / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _box_sums(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sum of every `shape`-sized window of image (valid positions only)."""
    th, tw = shape
    table = np.zeros((image.shape[0] + 1, image.shape[1] + 1))
    table[1:, 1:] = image.cumsum(0).cumsum(1)
    return table[th:, tw:] - table[:-th, tw:] - table[th:, :-tw] + table[:-th, :-tw]


def ncc_valid(*, image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of template at every position inside image."""
    t = template - template.mean()
    t_norm = math.sqrt(float((t * t).sum())) or 1.0
    numerator = signal.fftconvolve(image, t[::-1, ::-1], mode="valid")
    n = template.size
    sums = _box_sums(image, template.shape)
    energy = _box_sums(image * image, template.shape) - sums * sums / n
    return numerator / (t_norm * np.sqrt(np.maximum(energy, 1e-6)))


def _search(
    *, outer: Image.Image, inner: Image.Image, label: str, edge: int, kept: list[float]
) -> Alignment | None:
    """Best window for inner inside outer over the given kept widths, by NCC at `edge`."""
    template = _luma(inner.resize(_fit(size=inner.size, edge=edge), Image.BILINEAR))
    th, tw = template.shape
    # Every scale is resampled from one copy a little over the largest size needed.
    outer = outer.resize(_fit(size=outer.size, edge=round(2 * edge / MIN_KEPT)), Image.BILINEAR)
    ratio = (outer.width / outer.height) / (inner.width / inner.height)
    best = None
    for kept_w in kept:
        kept_h = min(kept_w * ratio, 1.0)
        if not MIN_KEPT <= kept_w <= 1.0 or kept_h < MIN_KEPT or kept_w * ratio > 1.02:
            continue
        if kept_w * kept_h < MIN_AREA_KEPT:
            continue
        size = (max(tw, round(tw / kept_w)), max(th, round(th / kept_h)))
        scores = ncc_valid(image=_luma(outer.resize(size, Image.BILINEAR)), template=template)
        y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
        score = float(scores[y, x])
        if best is None or score > best.score:
            best = Alignment(label, x / size[0], y / size[1], tw / size[0], th / size[1], score)
    return best


def _score(*, outer: Image.Image, target: np.ndarray, a: Alignment) -> float:
    size = (target.shape[1], target.shape[0])
    rendered = _luma(outer.resize(size, Image.BILINEAR, box=a.box(size=outer.size)))
    x, y = rendered - rendered.mean(), target - target.mean()
    return float((x * y).sum() / (math.sqrt(float((x * x).sum() * (y * y).sum())) or 1.0))


def _clamped(a: Alignment, *, left: float, top: float, width: float) -> Alignment:
    height = width * a.height / a.width
    width, height = min(width, 1.0), min(height, 1.0)
    left = min(max(left, 0.0), 1.0 - width)
    top = min(max(top, 0.0), 1.0 - height)
    return Alignment(a.inner, left, top, width, height, a.score)


def _refine(*, outer: Image.Image, inner: Image.Image, start: Alignment) -> Alignment:
    """Polish the coarse window to sub-pixel precision at the comparison size."""
    target = _luma(inner.resize(_fit(size=inner.size, edge=COMPARE_EDGE), Image.BILINEAR))
    outer = outer.resize(_fit(size=outer.size, edge=2 * COMPARE_EDGE), Image.BILINEAR)
    unit = 1.0 / target.shape[1]  # one comparison pixel, as a fraction of the inner width
    best = _with_score(start, _score(outer=outer, target=target, a=start))
    for step in REFINE_STEPS:
        for _sweep in range(REFINE_SWEEPS):
            trials = [
                _clamped(best, left=best.left + dl, top=best.top + dt, width=best.width + dw)
                for dl, dt, dw in _moves(step * unit * best.width)
            ]
            scored = [_with_score(t, _score(outer=outer, target=target, a=t)) for t in trials]
            winner = max(scored, key=lambda t: t.score)
            if winner.score <= best.score + 1e-6:
                break
            best = winner
    return best


def _moves(delta: float) -> list[tuple[float, float, float]]:
    return [
        (delta, 0.0, 0.0),
        (-delta, 0.0, 0.0),
        (0.0, delta, 0.0),
        (0.0, -delta, 0.0),
        (-delta / 2, -delta / 2, delta),
        (delta / 2, delta / 2, -delta),
        (0.0, 0.0, delta),
        (0.0, 0.0, -delta),
        (-delta, -delta, delta),
        (delta, delta, -delta),
    ]


def _with_score(a: Alignment, score: float) -> Alignment:
    return Alignment(a.inner, a.left, a.top, a.width, a.height, score)


def align(*, a: Image.Image, b: Image.Image) -> Alignment | None:
    """Find how one image sits inside the other (a crop, a scale, or both), or None."""
    gray = {"a": a.convert("L"), "b": b.convert("L")}
    coarse_kept = [1.0 - i * COARSE_STEP for i in range(round((1 - MIN_KEPT) / COARSE_STEP) + 1)]
    found = [
        _search(outer=gray[o], inner=gray[i], label=i, edge=SEARCH_EDGE, kept=coarse_kept)
        for o, i in (("a", "b"), ("b", "a"))
    ]
    found = [f for f in found if f is not None]
    if not found:
        return None
    top = max(f.score for f in found)
    # Near-identical framings score alike at the coarse size; let the fine search decide.
    fine = [_fine(gray=gray, coarse=f) for f in found if f.score >= top - DIRECTION_MARGIN]
    best = max(fine, key=lambda f: f.score)
    outer, inner = (gray["a"], gray["b"]) if best.inner == "b" else (gray["b"], gray["a"])
    return _refine(outer=outer, inner=inner, start=best)


def _fine(*, gray: dict, coarse: Alignment) -> Alignment:
    outer, inner = (gray["a"], gray["b"]) if coarse.inner == "b" else (gray["b"], gray["a"])
    kept = [coarse.width + i * FINE_STEP for i in range(-FINE_SPAN, FINE_SPAN + 1)]
    found = _search(outer=outer, inner=inner, label=coarse.inner, edge=FINE_EDGE, kept=kept)
    return found or coarse


def ssim_map(*, x: np.ndarray, y: np.ndarray, window: int = 7) -> np.ndarray:
    """Structural similarity at every pixel (Wang et al. 2004) with a uniform window."""
    mean_x = ndimage.uniform_filter(x, window)
    mean_y = ndimage.uniform_filter(y, window)
    var_x = ndimage.uniform_filter(x * x, window) - mean_x * mean_x
    var_y = ndimage.uniform_filter(y * y, window) - mean_y * mean_y
    cov = ndimage.uniform_filter(x * y, window) - mean_x * mean_y
    return ((2 * mean_x * mean_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mean_x**2 + mean_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    )


def _blocks(ssim: np.ndarray) -> tuple[np.ndarray, int, int]:
    rows = max(1, round(ssim.shape[0] / BLOCK_EDGE))
    cols = max(1, round(ssim.shape[1] / BLOCK_EDGE))
    edges_y = np.linspace(0, ssim.shape[0], rows + 1).astype(int)
    edges_x = np.linspace(0, ssim.shape[1], cols + 1).astype(int)
    means = np.array(
        [
            [
                ssim[edges_y[r] : edges_y[r + 1], edges_x[c] : edges_x[c + 1]].mean()
                for c in range(cols)
            ]
            for r in range(rows)
        ]
    )
    return means, rows, cols


def _chroma(ycc: np.ndarray) -> np.ndarray:
    return np.hypot(ycc[..., 1] - 128.0, ycc[..., 2] - 128.0)


def _linear_mean(luma: np.ndarray) -> float:
    # Exposure acts on linear light; sRGB-like gamma 2.2 is close enough for a ratio.
    return float(np.mean((luma / 255.0) ** 2.2)) + 1e-4


def aligned_pair(*, a: Image.Image, b: Image.Image, alignment: Alignment):
    """Both images rendered over the same scene area at the common comparison size."""
    inner, outer = (b, a) if alignment.inner == "b" else (a, b)
    size = _fit(size=inner.size, edge=COMPARE_EDGE)
    inner_small = inner.resize(size, Image.BILINEAR)
    outer_small = outer.resize(size, Image.BILINEAR, box=alignment.box(size=outer.size))
    if alignment.inner == "b":
        return outer_small, inner_small
    return inner_small, outer_small


def _phash(im: Image.Image) -> int:
    return hash_to_int(image_hash=imagehash.phash(im.convert("L"), hash_size=8))


def turn_find(*, a: Image.Image, b: Image.Image) -> str | None:
    """The turn or mirror that was applied to a's pixels to give b's, or None.

    Each of the seven turns is undone on b and pHashed; one is taken only when clearly
    nearer to a than b as stored (a still scene looks alike turned, but not that alike).
    """
    target = _phash(a)
    stored = (target ^ _phash(b)).bit_count()
    best, best_distance = None, 65
    for name, method in DIHEDRAL.items():
        distance = (target ^ _phash(b.transpose(method))).bit_count()
        if distance < best_distance:
            best, best_distance = name, distance
    if best is None or best_distance > TURN_MAX_DISTANCE or stored - best_distance < TURN_MARGIN:
        return None
    # b turned by `best` looks like a, so b is a turned by its inverse.
    return TURN_INVERSE.get(best, best)


def _undo_turn(*, b: Image.Image, turn: str) -> Image.Image:
    return b.transpose(DIHEDRAL[TURN_INVERSE.get(turn, turn)])


def block_spread(*, differing: np.ndarray) -> float:
    """Share of the block grid inside the bounding box of the differing blocks (0: none)."""
    rows, cols = np.nonzero(differing)
    if not rows.size:
        return 0.0
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    return round(float(box / differing.size), 3)


def _centre(im: Image.Image) -> Image.Image:
    w, h = im.size
    dx, dy = w * (1 - TILT_CENTRE) / 2, h * (1 - TILT_CENTRE) / 2
    return im.crop((round(dx), round(dy), round(w - dx), round(h - dy)))


def tilt_find(
    *, a: Image.Image, b: Image.Image, ssim: float
) -> tuple[float, Image.Image, Image.Image] | None:
    """The small turn of b (degrees, counter-clockwise) that lines it up with a, or None.

    Returns the angle and the centres of a and of b turned back, which the comparison
    then uses; None unless a turn raises the centre's SSIM by TILT_MIN_GAIN.
    """
    centre_a = _centre(a)
    luma_a = _luma(centre_a)
    base = float(ssim_map(x=luma_a, y=_luma(_centre(b))).mean())
    best, best_score = None, max(ssim, base) + TILT_MIN_GAIN
    for angle in TILT_ANGLES:
        turned = _centre(b.rotate(angle, resample=Image.BICUBIC))
        score = float(ssim_map(x=luma_a, y=_luma(turned)).mean())
        if score > best_score:
            best, best_score = angle, score
    if best is None:
        return None
    return -best, centre_a, _centre(b.rotate(best, resample=Image.BICUBIC))


def changed_regions(*, x: np.ndarray, y: np.ndarray, ssim: np.ndarray) -> dict:
    """Where aligned luma changed in content, as separate regions (pixel level).

    A pixel changed when its local SSIM is low and its smoothed luma moved far: noise,
    recompression and resampling move pixels a little or keep their structure, something
    that walked in or out does neither. Changed pixels closer than CHANGE_BRIDGE apart are
    one region, and along a row CHANGE_LINE_BRIDGE more (the words of a watermark);
    regions under CHANGE_MIN_PIXELS are dropped.
    """
    moved = np.abs(ndimage.uniform_filter(x - y, 3)) > CHANGE_LUMA
    changed = moved & (ssim < CHANGE_SSIM)
    bridged = ndimage.binary_dilation(changed, iterations=CHANGE_BRIDGE)
    # Lettering runs along a line: gaps between words are bridged along rows.
    bridged = ndimage.binary_dilation(bridged, structure=np.ones((1, 2 * CHANGE_LINE_BRIDGE + 1)))
    labels, count = ndimage.label(bridged, structure=np.ones((3, 3), dtype=int))
    if count:
        sizes = np.bincount(labels[changed], minlength=count + 1)[1:]
        kept = int((sizes >= CHANGE_MIN_PIXELS).sum())
        largest = int(sizes.max())
    else:
        kept, largest = 0, 0
    return {
        "regions": kept,
        "largest_region_pixels": largest,
        "changed_share": round(float(changed.mean()), 4),
    }


def compare(*, a: Image.Image, b: Image.Image) -> dict:
    """Align two reduced images and measure how alike they are, globally and per block."""
    turn = turn_find(a=a, b=b)
    if turn is not None:
        b = _undo_turn(b=b, turn=turn)
    alignment = align(a=a, b=b)
    if alignment is None:
        return {"aligned": False, "note": "aspect ratios too different to align", "turn": turn}
    small_a, small_b = aligned_pair(a=a, b=b, alignment=alignment)
    ycc_a = np.asarray(small_a.convert("YCbCr"), dtype=np.float64)
    ycc_b = np.asarray(small_b.convert("YCbCr"), dtype=np.float64)
    ssim = ssim_map(x=ycc_a[..., 0], y=ycc_b[..., 0])
    tilt = None
    if float(ssim.mean()) < 0.9 and alignment.score >= TILT_MIN_CORRELATION:
        tilted = tilt_find(a=small_a, b=small_b, ssim=float(ssim.mean()))
        if tilted is not None:
            tilt, small_a, small_b = tilted
            # Align again with b turned back, then compare the centres (no filled corners).
            turned = b.rotate(-tilt, resample=Image.BICUBIC)
            again = align(a=a, b=turned)
            if again is not None:
                alignment = again
                small_a, small_b = aligned_pair(a=a, b=turned, alignment=again)
                small_a, small_b = _centre(small_a), _centre(small_b)
            ycc_a = np.asarray(small_a.convert("YCbCr"), dtype=np.float64)
            ycc_b = np.asarray(small_b.convert("YCbCr"), dtype=np.float64)
            ssim = ssim_map(x=ycc_a[..., 0], y=ycc_b[..., 0])
    blocks, rows, cols = _blocks(ssim)
    worst = np.unravel_index(int(np.argmin(blocks)), blocks.shape)
    chroma_a, chroma_b = _chroma(ycc_a), _chroma(ycc_b)
    area_cut = 100.0 * (1.0 - alignment.width * alignment.height)
    differing = blocks < BLOCK_DIFFERS
    return {
        "aligned": True,
        "turn": turn,
        "tilt_degrees": tilt,
        "compared_at": [small_a.width, small_a.height],
        "inner": alignment.inner if area_cut >= 0.5 else None,
        "crop_percent": round(float(max(area_cut, 0.0)), 1),
        "crop_box": [round(float(v), 4) for v in alignment.box(size=(1, 1))],
        "correlation": round(alignment.score, 4),
        "ssim": round(float(ssim.mean()), 4),
        "worst_block_ssim": round(float(blocks[worst]), 4),
        "worst_block": [int(worst[0]), int(worst[1])],
        "blocks": rows * cols,
        "blocks_differing": int(differing.sum()),
        "block_grid": [rows, cols],
        "region_spread": block_spread(differing=differing),
        **changed_regions(x=ycc_a[..., 0], y=ycc_b[..., 0], ssim=ssim),
        "mean_abs_difference": round(float(np.abs(ycc_a[..., 0] - ycc_b[..., 0]).mean()), 2),
        "luma_shift_ev": round(
            math.log2(_linear_mean(ycc_b[..., 0]) / _linear_mean(ycc_a[..., 0])), 2
        ),
        "chroma_a": round(float(chroma_a.mean()), 2),
        "chroma_b": round(float(chroma_b.mean()), 2),
        "chroma_difference": round(
            float(np.hypot(ycc_a[..., 1] - ycc_b[..., 1], ycc_a[..., 2] - ycc_b[..., 2]).mean()),
            2,
        ),
    }
