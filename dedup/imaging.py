"""Perceptual fingerprints (pHash + dHash) computed from one small, reduced-scale decode.

Pure Python: no Django imports, so it can be used from workers and tested without settings.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import imagehash
import numpy as np
import PIL
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError
from scipy import fft as scipy_fft

from archive.imaging import decode_budget, decoded_bytes, png_bandable, png_bands

# Smallest edge (pixels) the reduced decode must keep; pHash resamples to 32x32 and dHash
# to 9x8, so 256 leaves a >=8x margin of real pixels for the final Lanczos filter.
DECODE_TARGET = 256

# Grey-level standard deviation (0-255 scale) of the 32x32 pHash input below which an
# image is treated as flat: its DCT is dominated by noise, so hashes collide at random.
LOW_INFO_STD = 4.0
# A 64-bit pHash thresholded at the median has 32 bits set unless many DCT coefficients
# tie at the median, which only happens for flat or few-tone synthetic images.
LOW_INFO_MIN_PHASH_BITS = 16

# Bytes of decoded pixels hashed per strip by the pixel digest, so hashing never copies
# the whole frame again (the decode itself is the one full-size image in memory).
PIXEL_DIGEST_STRIP_BYTES = 4 << 20
# How the pixel digest reads modes a file may store in more than one way: a palette as
# the colours it stands for, 1-bit as 8-bit grey, every 16-bit layout as 32-bit integers.
_DIGEST_MODES = {"1": "L", "PA": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I", "I;16N": "I"}
# Formats whose fingerprint decode is DCT-scaled (draft), not the file's real pixels.
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})
# Decoded bytes of one band: mode conversions and the box reduction work a band at a time,
# so no full-size copy of a frame is ever made beside the decode itself.
BAND_BYTES = 8 << 20

U64_MASK = (1 << 64) - 1
_WHITE = {"L": 255, "RGB": (255, 255, 255)}
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")
# Same mapping as ImageOps.exif_transpose (EXIF 2.3 Orientation values).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


# The pixels as stored turned or mirrored: a copy B = T(A) has B's pHash near A's variant T.
# Names say what was done to this image (clockwise turns).
DIHEDRAL = {
    "rot90": Image.Transpose.ROTATE_270,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_90,
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}
# Centred windows of other aspect ratios (width / height): the same design rendered
# portrait, square or landscape is a centred crop of the widest rendering. A window is
# hashed only when it removes at least WINDOW_MIN_CUT of the area.
WINDOW_ASPECTS = (1.0, 4 / 5, 3 / 4, 2 / 3, 9 / 16, 5 / 4, 4 / 3, 3 / 2, 16 / 9)
WINDOW_MIN_CUT = 0.12
# Heavy crops (20-40 % of the area, cut anywhere): windows keeping GRID_KEPT of each side,
# at the corners, edge middles and centre of the frame.
GRID_KEPT = (0.86, 0.76)
GRID_STEPS = 4
# Centred windows: the picture inside a mount, border or drop shadow added around it.
CENTRE_KEPT = (0.9, 0.8)
# Windows are cut from one copy of the reduced image at about this longest edge.
VARIANT_EDGE = 128


def hash_version(*, target: int = DECODE_TARGET) -> str:
    """Describe the exact recipe behind a hash: algorithm, decode target and library versions."""
    # Hashes drift between library versions and decode strategies, so every stored hash
    # carries this string and hashes are only compared within one version.
    return (
        f"phash+dhash/v2 draft{target} imagehash={imagehash.__version__} pillow={PIL.__version__}"
    )


HASH_VERSION = hash_version()


class ImageDecodeError(ValueError):
    """Raised when a file cannot be decoded into an image that is safe to fingerprint."""


@dataclass(frozen=True)
class SourceInfo:
    """Facts about the original file, read before any reduced-scale decoding."""

    width: int
    height: int
    format: str
    mode: str
    frames: int


@dataclass(frozen=True)
class ImageFingerprint:
    """Perceptual hashes plus the source facts needed to interpret them."""

    phash: int
    dhash: int
    low_information: bool
    width: int
    height: int
    format: str
    mode: str
    frames: int
    hash_version: str
    # SHA-256 of the decoded, orientation-applied first frame (mode, size, pixels); equal
    # digests mean the same picture in different bytes (a pixel twin). Empty when not
    # computed: multi-frame files, or fingerprint_image(pixel_digest=False).
    pixel_sha256: str = ""
    # Further pHashes, (name, unsigned 64-bit), of the same picture turned or mirrored and of
    # windows of it (see VARIANTS): the lookup for copies the main pHash cannot see.
    variants: tuple[tuple[str, int], ...] = ()


def signed64(u: int) -> int:
    """Map an unsigned 64-bit int onto the signed range a database bigint can hold."""
    if not 0 <= u <= U64_MASK:
        raise ValueError(f"{u} is not an unsigned 64-bit integer")
    return u - (1 << 64) if u >= 1 << 63 else u


def unsigned64(s: int) -> int:
    """Map a signed 64-bit int (as stored in a bigint column) back to its unsigned value."""
    if not -(1 << 63) <= s < 1 << 63:
        raise ValueError(f"{s} is not a signed 64-bit integer")
    return s & U64_MASK


def hash_to_int(*, image_hash: imagehash.ImageHash) -> int:
    """Pack an imagehash bit matrix row-major, first bit most significant, into an int."""
    bits = np.asarray(image_hash.hash, dtype=bool).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def open_for_hashing(
    *, fp: BinaryIO, target: int = DECODE_TARGET
) -> tuple[Image.Image, SourceInfo]:
    """Decode the first frame at reduced scale into an oriented 8-bit grayscale image."""
    gray, info, _digest = _decode(fp=fp, target=target, pixel_digest=False)
    return gray, info


def _decode(
    *, fp: BinaryIO, target: int, pixel_digest: bool
) -> tuple[Image.Image, SourceInfo, str]:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Partially decoded files are padded with grey, which would yield confident
        # but meaningless hashes.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False for hashing")
    fp = _ensure_readable(fp=fp)
    start = fp.tell()
    with _translate_errors():
        im = _open_checked(fp=fp)
        info = _source_info(im=im)
        # A digest of the first frame alone would call files twins whose later frames differ.
        pixel_digest = pixel_digest and info.frames == 1
        # Memory: a frame is decoded whole only within the decode budget (archive.imaging);
        # larger ones are DCT-scaled (JPEG) or decoded a band of rows at a time (PNG).
        whole = decoded_bytes(im) <= decode_budget()
        if im.format in _DRAFT_FORMATS:
            small, orientation, digest = _decode_draft(
                im=im, fp=fp, start=start, target=target, pixel_digest=pixel_digest and whole
            )
        elif whole:
            small, orientation, digest = _decode_whole(
                im=im, target=target, pixel_digest=pixel_digest
            )
        elif png_bandable(im):
            small, orientation, digest = _decode_png_bands(
                im=im, fp=fp, target=target, pixel_digest=pixel_digest
            )
        else:
            w, h = im.size
            raise ImageDecodeError(
                f"{w}x{h} {im.mode} is too large to decode within the memory budget "
                f"({decode_budget() >> 20} MiB)"
            )
        gray = _orient(im=_to_gray(im=small), orientation=orientation)
    if orientation in (5, 6, 7, 8):
        info = SourceInfo(info.height, info.width, info.format, info.mode, info.frames)
    return gray, info, digest


def _decode_draft(*, im, fp, start, target, pixel_digest) -> tuple[Image.Image, int, str]:
    digest = ""
    if pixel_digest:
        # The draft below is DCT-scaled grey, not the file's pixels: these formats (only
        # these) are decoded once more at full size for the digest, first, so no more than
        # one full-size frame is in memory at a time (and only within the decode budget).
        digest = _full_size_digest(fp=fp, start=start)
    # DCT-domain scaling skips most IDCT work; asking for L lets libjpeg skip chroma
    # entirely since its Y channel uses the same luma weights as convert("L").
    im.draft("L", (target, target))
    im.load()
    orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    return _reduce(im=_normalise_mode(im=im), target=target), orientation, digest


def _decode_whole(*, im, target, pixel_digest) -> tuple[Image.Image, int, str]:
    im.load()
    orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    # The one full-size decode the hashes start from.
    digest = pixel_sha256(im=im, orientation=orientation) if pixel_digest else ""
    bounds = im.getextrema() if im.mode in _HIGH_DEPTH_MODES else None
    factor = _reduce_factor(size=im.size, target=target)
    rows = _band_rows(width=im.width, factor=factor)
    bands = (
        im.crop((0, top, im.width, min(im.height, top + rows))) for top in range(0, im.height, rows)
    )
    return (
        _reduce_bands(bands=bands, size=im.size, factor=factor, bounds=bounds),
        orientation,
        digest,
    )


def _decode_png_bands(*, im, fp, target, pixel_digest) -> tuple[Image.Image, int, str]:
    # PNG keeps EXIF before the image data (eXIf); reading a later one would decode it all.
    orientation = im.getexif().get(ExifTags.Base.Orientation, 1) if "exif" in im.info else 1
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    # Rows arrive top to bottom: the digest is taken on the way unless the orientation
    # turns columns into rows.
    digest = None
    if pixel_digest and method in (None, Image.Transpose.FLIP_LEFT_RIGHT):
        mode = _digest_mode(im=im)
        digest = _digest_start(mode=mode, size=im.size)
    factor = _reduce_factor(size=im.size, target=target)

    def bands():
        for band in png_bands(fp, im, band_bytes=BAND_BYTES, rows_multiple=factor):
            if digest is not None:
                strip = band if band.mode == mode else band.convert(mode)
                if method is not None:  # FLIP_LEFT_RIGHT is 0: test against None
                    strip = strip.transpose(method)
                digest.update(strip.tobytes())
            yield band

    small = _reduce_bands(bands=bands(), size=im.size, factor=factor, bounds=None)
    return small, orientation, digest.hexdigest() if digest is not None else ""


def _reduce_factor(*, size: tuple[int, int], target: int) -> int:
    factor = min(size) // target
    return factor if factor >= 2 else 1


def _band_rows(*, width: int, factor: int) -> int:
    rows = BAND_BYTES // (4 * max(1, width)) // factor * factor
    return max(factor, rows)


def _reduce_bands(*, bands, size: tuple[int, int], factor: int, bounds) -> Image.Image:
    """Normalise and box-reduce a frame band by band into one small image.

    Every band but the last spans a multiple of factor rows, so the result equals
    normalising and reducing the whole frame at once (each is per pixel or per box).
    """
    width, height = size
    small, top = None, 0
    for band in bands:
        part = _normalise_mode(im=band, bounds=bounds)
        if factor > 1:
            part = part.reduce(factor)
        if small is None:
            small = Image.new(part.mode, (-(-width // factor), -(-height // factor)))
        small.paste(part, (0, top))
        top += part.height
    return small


def _full_size_digest(*, fp: BinaryIO, start: int) -> str:
    fp.seek(start)
    with _open_checked(fp=fp) as full:
        full.load()
        digest = pixel_sha256(im=full, orientation=full.getexif().get(ExifTags.Base.Orientation, 1))
    fp.seek(start)
    return digest


def pixel_sha256(*, im: Image.Image, orientation: int = 1) -> str:
    """SHA-256 of a loaded frame as displayed: its mode, its size, then its rows in order.

    Hashed strip by strip (each strip cropped, converted and oriented on its own), so the
    memory needed beyond the decoded frame stays at PIXEL_DIGEST_STRIP_BYTES.
    """
    mode = _digest_mode(im=im)
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    w, h = im.size
    width, height = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    digest = _digest_start(mode=mode, size=(width, height))
    row_bytes = max(1, width * Image.getmodebands(mode) * 4)
    rows = max(1, PIXEL_DIGEST_STRIP_BYTES // row_bytes)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        strip = im.crop(_source_box(method=method, size=(w, h), rows=(top, bottom)))
        if strip.mode != mode:
            strip = strip.convert(mode)
        if method is not None:
            strip = strip.transpose(method)
        digest.update(strip.tobytes())
    return digest.hexdigest()


def _digest_start(*, mode: str, size: tuple[int, int]):
    width, height = size
    return hashlib.sha256(f"keepsake-pixels/v1 {mode} {width}x{height}\n".encode())


def _digest_mode(*, im: Image.Image) -> str:
    if im.mode == "P":
        return "RGBA" if "transparency" in im.info else "RGB"
    return _DIGEST_MODES.get(im.mode, im.mode)


def _source_box(
    *, method: Image.Transpose | None, size: tuple[int, int], rows: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The region of the stored frame that becomes rows [top, bottom) once transposed."""
    (w, h), (top, bottom) = size, rows
    T = Image.Transpose
    if method in (None, T.FLIP_LEFT_RIGHT):
        return (0, top, w, bottom)
    if method in (T.FLIP_TOP_BOTTOM, T.ROTATE_180):
        return (0, h - bottom, w, h - top)
    if method in (T.TRANSPOSE, T.ROTATE_270):
        # Displayed rows are stored columns, left to right.
        return (top, 0, bottom, h)
    # ROTATE_90 and TRANSVERSE: displayed rows are stored columns, right to left.
    return (w - bottom, 0, w - top, h)


def fingerprint_image(
    *, fp: BinaryIO, target: int = DECODE_TARGET, pixel_digest: bool = True
) -> ImageFingerprint:
    """Compute pHash, dHash, a low-information flag and the pixel digest from an image file."""
    gray, info, digest = _decode(fp=fp, target=target, pixel_digest=pixel_digest)
    # pHash resizes to 32x32 with Lanczos itself; handing it that exact image gives the same
    # bits and lets the flatness check reuse it instead of resampling again.
    small = gray.resize((32, 32), Image.Resampling.LANCZOS)
    phash = hash_to_int(image_hash=imagehash.phash(small, hash_size=8))
    dhash = hash_to_int(image_hash=imagehash.dhash(gray, hash_size=8))
    low = is_low_information(small=small, phash=phash, dhash=dhash)
    return ImageFingerprint(
        phash=phash,
        dhash=dhash,
        low_information=low,
        width=info.width,
        height=info.height,
        format=info.format,
        mode=info.mode,
        frames=info.frames,
        hash_version=HASH_VERSION if target == DECODE_TARGET else hash_version(target=target),
        pixel_sha256=digest,
        variants=() if low else variant_hashes(gray=gray, small=small),
    )


def phashes_of(stack: np.ndarray) -> list[int]:
    """pHash of each 32x32 array in stack: imagehash's recipe (DCT, 8x8 low band > median)."""
    dct = scipy_fft.dct(scipy_fft.dct(stack, axis=1), axis=2)[:, :8, :8].reshape(len(stack), 64)
    bits = dct > np.median(dct, axis=1)[:, None]
    return [int.from_bytes(row.tobytes(), "big") for row in np.packbits(bits, axis=1)]


def windows_of(*, size: tuple[int, int]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Named windows (left, top, right, bottom as fractions) hashed for a frame of this size."""
    w, h = size
    found = []
    for aspect in WINDOW_ASPECTS:
        kept_w, kept_h = min(1.0, aspect * h / w), min(1.0, w / (aspect * h))
        if kept_w * kept_h <= 1 - WINDOW_MIN_CUT:
            left, top = (1 - kept_w) / 2, (1 - kept_h) / 2
            found.append((f"aspect{aspect:.2f}", (left, top, left + kept_w, top + kept_h)))
    for kept in CENTRE_KEPT:
        margin = (1 - kept) / 2
        found.append((f"centre{kept:.2f}", (margin, margin, 1 - margin, 1 - margin)))
    for kept in GRID_KEPT:
        for row in range(GRID_STEPS):
            for col in range(GRID_STEPS):
                left = (1 - kept) * col / (GRID_STEPS - 1)
                top = (1 - kept) * row / (GRID_STEPS - 1)
                box = (left, top, left + kept, top + kept)
                found.append((f"grid{kept:.2f}:{row}{col}", box))
    return found


def variant_hashes(*, gray: Image.Image, small: Image.Image) -> tuple[tuple[str, int], ...]:
    """pHashes of the picture turned and mirrored, and of its windows (see DIHEDRAL, windows_of).

    About 3 ms an image: the windows are cut from one copy at VARIANT_EDGE and all DCTs
    run as one batch.
    """
    pixels = np.asarray(small, dtype=np.float64)
    turned = {
        "rot90": np.rot90(pixels, -1),
        "rot180": np.rot90(pixels, 2),
        "rot270": np.rot90(pixels, 1),
        "mirror": pixels[:, ::-1],
        "flip": pixels[::-1, :],
        "transpose": pixels.T,
        "transverse": np.rot90(pixels, 2).T,
    }
    names, arrays = list(DIHEDRAL), [turned[name] for name in DIHEDRAL]
    scale = min(1.0, VARIANT_EDGE / max(gray.size))
    base = gray
    if scale < 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        base = gray.resize(size, Image.Resampling.BOX)
    w, h = base.size
    for name, (left, top, right, bottom) in windows_of(size=(w, h)):
        box = (left * w, top * h, right * w, bottom * h)
        names.append(name)
        arrays.append(np.asarray(base.resize((32, 32), Image.Resampling.BILINEAR, box=box)))
    return tuple(zip(names, phashes_of(np.asarray(arrays, dtype=np.float64)), strict=True))


def is_low_information(*, small: Image.Image, phash: int, dhash: int) -> bool:
    """Tell whether an image is too flat or degenerate for its hashes to discriminate."""
    if phash.bit_count() < LOW_INFO_MIN_PHASH_BITS or dhash in (0, U64_MASK):
        return True
    # Measured on the 32x32 pHash input, so the flatness judged is what the hash sees.
    pixels = np.asarray(small.convert("L").resize((32, 32), Image.Resampling.LANCZOS))
    return float(pixels.std()) < LOW_INFO_STD


def _ensure_readable(*, fp: BinaryIO) -> BinaryIO:
    """Reject empty input and make sure the stream can be rewound for Pillow."""
    if not fp.seekable():
        fp = io.BytesIO(fp.read())
    start = fp.tell()
    if not fp.read(1):
        raise ImageDecodeError("empty file (0 bytes)")
    fp.seek(start)
    return fp


def _open_checked(*, fp: BinaryIO) -> Image.Image:
    """Open lazily and reject images whose pixel count exceeds Pillow's bomb limit."""
    im = Image.open(fp)
    # Pillow only warns between 1x and 2x the limit; a warning filter may be ignored by
    # other code, so the size is checked here as well.
    limit = Image.MAX_IMAGE_PIXELS
    pixels = im.width * im.height
    if limit is not None and pixels > limit:
        raise ImageDecodeError(_bomb_message(pixels=pixels))
    return im


def _source_info(*, im: Image.Image) -> SourceInfo:
    """Capture full-size facts before draft() shrinks the reported size."""
    frames = int(getattr(im, "n_frames", 1))
    if im.tell() != 0:
        im.seek(0)
    return SourceInfo(im.width, im.height, im.format or "UNKNOWN", im.mode, frames)


def _normalise_mode(*, im: Image.Image, bounds=None) -> Image.Image:
    """Bring exotic modes to L or RGB, compositing transparency onto white.

    bounds: the (min, max) of the whole frame when im is one band of a high-depth frame.
    """
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in _ALPHA_MODES:
        return _flatten_alpha(im=im)
    if im.mode in _HIGH_DEPTH_MODES:
        return _to_8bit(im=im, bounds=bounds)
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("L" if im.mode == "1" else "RGB")


def _flatten_alpha(*, im: Image.Image) -> Image.Image:
    """Composite onto a fixed white background so transparent pixels hash consistently."""
    base = "L" if im.mode in ("LA", "La") else "RGB"
    with_alpha = im.convert(base + "A")
    canvas = Image.new(base, im.size, _WHITE[base])
    canvas.paste(with_alpha.convert(base), mask=with_alpha.getchannel("A"))
    return canvas


def _to_8bit(*, im: Image.Image, bounds=None) -> Image.Image:
    """Scale 16-bit or wider grayscale to 8 bits instead of clipping at 255."""
    data = np.asarray(im, dtype=np.float64)
    found = bounds if bounds is not None else (float(data.min()), float(data.max()))
    low = min(float(found[0]), 0.0)
    # Assume the nominal 16-bit range unless the data proves it is wider.
    high = max(float(found[1]), 65535.0 if im.mode != "F" else 1.0)
    scaled = np.round((data - low) * (255.0 / (high - low)))
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def _reduce(*, im: Image.Image, target: int) -> Image.Image:
    """Box-reduce images still far above target so the final Lanczos pass stays cheap."""
    factor = min(im.width, im.height) // target
    return im.reduce(factor) if factor >= 2 else im


def _to_gray(*, im: Image.Image) -> Image.Image:
    """Convert once to grayscale so both hashes share one luma image."""
    return im if im.mode == "L" else im.convert("L")


def _orient(*, im: Image.Image, orientation: int) -> Image.Image:
    """Apply the EXIF orientation read from the source, always returning a detached image."""
    # Applied by hand because alpha flattening builds a new canvas without the EXIF block.
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im.copy()


def _bomb_message(*, pixels: int) -> str:
    """Explain a decompression-bomb rejection in the same words for both Pillow signals."""
    return f"decompression bomb: {pixels} pixels exceeds the limit of {Image.MAX_IMAGE_PIXELS}"


@contextmanager
def _translate_errors() -> Iterator[None]:
    """Turn Pillow's assorted decode failures into ImageDecodeError with a human message."""
    try:
        # Scoped to this category only, so concurrent threads at worst also get an error for
        # an oversized image, which is the desired outcome anyway.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        match = _BOMB_PIXELS.search(str(exc))
        pixels = int(match.group(1)) if match else -1
        raise ImageDecodeError(_bomb_message(pixels=pixels)) from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not an image Pillow can read") from exc
    # Plugins signal malformed data with a wide spread of built-in exception types.
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError) as exc:
        raise ImageDecodeError(f"truncated or corrupt image data: {exc}") from exc
