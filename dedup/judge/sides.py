"""What the judgement knows about each file of a pair before looking at pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import Image

LOSSLESS_FORMATS = {"PNG", "TIFF", "BMP", "GIF", "PPM", "TGA", "QOI"}
# Sum of the IJG standard luminance quantisation table (quality 50); a JPEG's own table
# sum relative to it gives the libjpeg quality scale the encoder used.
_STD_LUMA_SUM = 3688
_WEBP_CHUNK_LIMIT = 64


@dataclass(frozen=True)
class PairSide:
    """One file of a pair: the facts its record holds (dimensions as displayed)."""

    sha256: str
    width: int
    height: int
    format: str
    size: int
    mode: str = ""
    frames: int = 1
    exif: dict = field(default_factory=dict)

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _webp_lossless(fp: BinaryIO) -> bool | None:
    """Read the RIFF chunk list: VP8L is lossless, VP8 lossy (None if unreadable)."""
    fp.seek(0)
    header = fp.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"WEBP":
        return None
    for _ in range(_WEBP_CHUNK_LIMIT):
        chunk = fp.read(8)
        if len(chunk) < 8:
            return None
        fourcc, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if fourcc in (b"VP8L", b"VP8 "):
            return fourcc == b"VP8L"
        fp.seek(size + (size & 1), 1)
    return None


def _jpeg_quality(fp: BinaryIO) -> int | None:
    """Estimate the libjpeg quality setting from the luminance quantisation table."""
    fp.seek(0)
    try:
        with Image.open(fp) as im:
            tables = getattr(im, "quantization", None) or {}
    except (OSError, ValueError, SyntaxError):
        return None
    luma = tables.get(0)
    if not luma:
        return None
    if max(luma) == 1:
        return 100  # every coefficient kept: the formula's top end
    scale = 100.0 * sum(luma) / _STD_LUMA_SUM
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return max(1, min(100, round(quality)))


def side_encoding(*, side: PairSide, fp: BinaryIO) -> dict:
    """Lossless or lossy, and the JPEG quality estimate, read from the file's headers."""
    lossless = side.format in LOSSLESS_FORMATS
    quality = None
    if side.format == "WEBP":
        lossless = bool(_webp_lossless(fp))
    elif side.format in ("JPEG", "MPO"):
        quality = _jpeg_quality(fp)
    return {"lossless": lossless, "jpeg_quality": quality}


def side_facts(*, side: PairSide) -> dict:
    """The per-side block of the evidence."""
    return {
        "width": side.width,
        "height": side.height,
        "pixels": side.pixels,
        "format": side.format,
        "lossless": side.format in LOSSLESS_FORMATS,
        "size": side.size,
        "mode": side.mode,
        "frames": side.frames,
    }


def records_evidence(*, side_a: PairSide, side_b: PairSide, phash: int, dhash: int) -> dict:
    """Evidence from the records alone: distances, dimensions, formats and sizes."""
    larger = (
        "a" if side_a.pixels > side_b.pixels else "b" if side_b.pixels > side_a.pixels else "same"
    )
    return {
        "distances": {"phash": phash, "dhash": dhash},
        "a": side_facts(side=side_a),
        "b": side_facts(side=side_b),
        "aspect_ratio": {
            "a": round(side_a.width / side_a.height, 4),
            "b": round(side_b.width / side_b.height, 4),
        },
        "larger": larger,
        "linear_scale_b_to_a": round((side_b.pixels / side_a.pixels) ** 0.5, 4),
    }
