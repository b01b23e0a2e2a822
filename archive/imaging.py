"""Open an image once, cheaply, and tell whether Keepsake can store it.

The probe reads the header (format, size, mode, frames, EXIF) and decodes the first frame
at reduced scale where the format allows it (JPEG DCT scaling), which still reads every
byte of compressed data, so truncated files are caught without a full-size decode.

Memory is bounded: a frame is decoded whole only when its decoded size fits the decode
budget (`decode_budget`, 100 MiB unless settings say otherwise). Larger JPEGs are decoded
DCT-scaled, larger 8-bit PNGs a band of rows at a time (`png_bands`, also used by the
fingerprint), and anything else larger is refused with the figures, never decoded.
"""

import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from archive.errors import InvalidImage

# Truncated files must fail loudly; a silently grey-padded image would be stored as good.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ROTATING_ORIENTATIONS = {5, 6, 7, 8}
PROBE_DECODE_EDGE = 512
DCT_SCALED_FORMATS = frozenset({"JPEG", "MPO"})
UNSAFE_FORMATS = frozenset({"EPS"})

# Decoded bytes one frame may take when decoded whole (KEEPSAKE_DECODE_BUDGET_BYTES). With
# the process itself (~160 MiB at rest) and the fingerprint's band-sized temporaries, an upload
# stays under 300 MiB of resident memory (bench/bench_probe_memory.py).
DEFAULT_DECODE_BUDGET_BYTES = 100 << 20
# Decoded bytes of one band when a frame is decoded a band at a time.
BAND_BYTES = 8 << 20
# 8-bit, one sample per byte PNG layouts whose rows round-trip exactly through Pillow, so a
# band's last row can seed the next band's filters: raw mode -> bytes per pixel.
PNG_BAND_MODES = {"L": 1, "P": 1, "LA": 2, "RGB": 3, "RGBA": 4}
IDAT_READ = 1 << 20

# Base IFD and Exif sub-IFD tags kept on every asset; the judgement of pairs reads them.
BASE_TAGS = {
    ExifTags.Base.Make: "Make",
    ExifTags.Base.Model: "Model",
    ExifTags.Base.Orientation: "Orientation",
    ExifTags.Base.DateTime: "DateTime",
    ExifTags.Base.Software: "Software",
    # TIFF/EP puts the frame counter in IFD0; cameras that write it in the Exif IFD win.
    ExifTags.Base.ImageNumber: "ImageNumber",
}
EXIF_TAGS = {
    ExifTags.Base.DateTimeOriginal: "DateTimeOriginal",
    ExifTags.Base.SubsecTimeOriginal: "SubSecTimeOriginal",
    ExifTags.Base.OffsetTimeOriginal: "OffsetTimeOriginal",
    ExifTags.Base.ExposureBiasValue: "ExposureBiasValue",
    ExifTags.Base.ExposureTime: "ExposureTime",
    ExifTags.Base.FNumber: "FNumber",
    ExifTags.Base.ISOSpeedRatings: "ISOSpeedRatings",
    ExifTags.Base.FocalLength: "FocalLength",
    ExifTags.Base.BodySerialNumber: "BodySerialNumber",
    ExifTags.Base.ImageUniqueID: "ImageUniqueID",
    ExifTags.Base.LensModel: "LensModel",
    ExifTags.Base.ImageNumber: "ImageNumber",
}


@dataclass(frozen=True)
class ImageProbe:
    format: str
    width: int
    height: int
    mode: str
    frames: int
    exif: dict = field(default_factory=dict)


def exif_value(value):
    """Turn one EXIF value into plain JSON, or None when it is unreadable."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value.replace("\x00", "").strip() or None
    if isinstance(value, tuple | list):
        items = [exif_value(item) for item in value]
        return items if all(item is not None for item in items) else None
    if isinstance(value, int):
        return value
    try:
        number = float(value)  # IFDRational and friends
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def exif_extract(image: Image.Image) -> dict:
    """Return the EXIF fields Keepsake keeps; malformed EXIF yields what could be read."""
    if image.format == "PNG" and "exif" not in image.info:
        # Pillow would decode the whole image looking for an eXIf chunk after the image
        # data (a full-size decode, and a failure there was swallowed as "no EXIF", so
        # the decode that follows found nothing left to check). The PNG specification
        # puts eXIf before the image data, where opening the file already read it.
        return {}
    try:
        exif = image.getexif()
        sub_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001 - odd EXIF must never fail an ingest
        return {}
    found = {}
    for source, tags in ((exif, BASE_TAGS), (sub_ifd, EXIF_TAGS)):
        for tag, name in tags.items():
            if tag in source:
                value = exif_value(source.get(tag))
                if value is not None:
                    found[name] = value
    return found


class _CallerOwnedFile:
    """A view of a file that Pillow may close without closing the caller's file."""

    def __init__(self, fp: BinaryIO):
        self._fp = fp

    def __getattr__(self, name):
        # Everything else (read, seek, tell, readline, ...) is the caller's file's own.
        return getattr(self._fp, name)

    def close(self):
        pass


def readable_formats() -> list[str]:
    """Every format Pillow opens here except PostScript, which only Ghostscript renders.

    EPS is a program: decoding it runs Ghostscript on the uploader's code (where it is
    installed). No archive image needs it; it is refused as unrecognised.
    """
    Image.init()
    return [name for name in Image.OPEN if name not in UNSAFE_FORMATS]


def open_image(fp: BinaryIO) -> Image.Image:
    """Open lazily; above Image.MAX_IMAGE_PIXELS (set from settings) the file is a bomb."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit; both are refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(_CallerOwnedFile(fp), formats=readable_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(f"decompression bomb refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("not an image Keepsake can read (unrecognised format)") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's, not ours
        raise InvalidImage(_decoder_reason(exc)) from exc


def _decoder_reason(exc: Exception) -> str:
    """A reason a person can act on, for whatever a Pillow decoder raised."""
    text = str(exc)
    if "Decompressed data too large" in text or "Too much memory used in text chunks" in text:
        return "metadata text that inflates past the limit (a text-chunk bomb); refused"
    if isinstance(exc, MemoryError):
        return "the image needs more memory to read than one file may use; refused"
    detail = text[:200] or type(exc).__name__
    return f"truncated or corrupt image data ({detail})"


def decode_budget() -> int:
    """Decoded bytes one frame may take in memory (settings, else the default)."""
    try:
        from django.conf import settings

        if settings.configured:
            return int(getattr(settings, "KEEPSAKE_DECODE_BUDGET_BYTES", 0)) or (
                DEFAULT_DECODE_BUDGET_BYTES
            )
    except ImportError:  # used without Django (benchmarks, workers of other tools)
        pass
    return DEFAULT_DECODE_BUDGET_BYTES


def decoded_bytes(image: Image.Image) -> int:
    """Bytes Pillow allocates for one full-size frame of image (1, 2 or 4 per pixel)."""
    width, height = image.size
    if image.mode in ("1", "L", "P"):
        per_pixel = 1
    elif image.mode.startswith("I;16"):
        per_pixel = 2
    else:
        per_pixel = 4  # RGB is stored as 32-bit pixels too
    return width * height * per_pixel


def png_bandable(image: Image.Image) -> bool:
    """Whether png_bands can decode this (8-bit, non-interlaced, single-tile) PNG frame."""
    tile = image.tile
    return (
        image.format == "PNG"
        and len(tile) == 1
        and tile[0][0] == "zip"
        and tile[0][3] in PNG_BAND_MODES
        and tile[0][3] == image.mode
        and not image.info.get("interlace")
    )


def _idat_data(fp: BinaryIO, offset: int) -> Iterator[bytes]:
    """The bytes of consecutive IDAT chunks from the one whose data starts at offset."""
    fp.seek(offset - 8)
    while True:
        header = fp.read(8)
        if len(header) < 8:
            return
        length, kind = struct.unpack(">I4s", header)
        if kind != b"IDAT":
            return
        while length > 0:
            piece = fp.read(min(length, IDAT_READ))
            if not piece:
                return
            length -= len(piece)
            yield piece
        fp.read(4)  # CRC; Pillow's own decoder does not check it on image data either


def _png_band(image: Image.Image, raw: bytes, rows: int, previous: bytes | None):
    """Decode rows of filtered scanlines; previous (unfiltered) seeds the first row's filter."""
    width, rawmode = image.size[0], image.tile[0][3]
    if previous is not None:
        raw, rows = b"\x00" + previous + raw, rows + 1
    band = Image.frombytes(image.mode, (width, rows), zlib.compress(raw, 0), "zip", rawmode)
    if image.mode == "P" and image.palette is not None:
        band.putpalette(image.palette.palette, image.palette.rawmode or image.palette.mode)
    if "transparency" in image.info:
        band.info["transparency"] = image.info["transparency"]
    return band.crop((0, 1, width, rows)) if previous is not None else band


def _png_raw_bands(fp: BinaryIO, image: Image.Image, rows: int) -> Iterator[tuple[bytes, int]]:
    """(filtered scanlines, row count) of the first frame, rows at a time, inflated lazily.

    Raises ValueError when the data ends before the last row (truncated); data after the
    last row is ignored, as Pillow's own decoder does.
    """
    width, height = image.size
    row_bytes = 1 + width * PNG_BAND_MODES[image.tile[0][3]]
    inflater, pending, done = zlib.decompressobj(), bytearray(), 0
    for data in _idat_data(fp, image.tile[0][2]):
        while data and done < height and not inflater.eof:
            try:
                pending += inflater.decompress(data, rows * row_bytes)
            except zlib.error as exc:  # not a ValueError: callers translate those
                raise ValueError(f"broken data stream ({exc})") from exc
            data = inflater.unconsumed_tail
            while done < height and len(pending) >= min(rows, height - done) * row_bytes:
                count = min(rows, height - done)
                raw = bytes(pending[: count * row_bytes])
                del pending[: count * row_bytes]
                done += count
                yield raw, count
        if done >= height or inflater.eof:
            break
    if done < height:
        raise ValueError(f"image data ends after {done} of {height} rows (truncated)")


def png_bands(
    fp: BinaryIO, image: Image.Image, *, band_bytes: int = 0, rows_multiple: int = 1
) -> Iterator[Image.Image]:
    """The first frame of a png_bandable image, a band of rows at a time, top to bottom.

    The image data is inflated incrementally and each band decoded by Pillow's own PNG
    row decoder, so the result is the same as a whole decode, but memory stays at about
    one band. Every band but the last has a multiple of rows_multiple rows (so a box
    reduction of each band equals that of the whole). Raises ValueError when truncated.
    """
    width, rawmode = image.size[0], image.tile[0][3]
    rows = (band_bytes or BAND_BYTES) // (4 * width) // rows_multiple * rows_multiple
    previous = None
    for raw, count in _png_raw_bands(fp, image, max(rows_multiple, rows)):
        band = _png_band(image, raw, count, previous)
        previous = band.crop((0, count - 1, width, count)).tobytes("raw", rawmode)
        yield band


def png_verify(fp: BinaryIO, image: Image.Image) -> None:
    """Check a png_bandable frame as Pillow's decoder would, without keeping its pixels.

    The decoder fails on a broken zlib stream, an unknown row filter or missing rows;
    the same three are checked here while inflating a band at a time (ValueError).
    """
    width = image.size[0]
    row_bytes = 1 + width * PNG_BAND_MODES[image.tile[0][3]]
    rows = max(1, BAND_BYTES // (4 * width))
    for raw, _count in _png_raw_bands(fp, image, rows):
        if max(raw[::row_bytes]) > 4:
            raise ValueError("unknown PNG row filter (broken data stream)")


def _too_large(image: Image.Image, need: int, budget: int) -> str:
    width, height = image.size
    return (
        f"{width}×{height} {image.mode} needs {need >> 20} MiB to decode, above the "
        f"{budget >> 20} MiB one file may use (KEEPSAKE_DECODE_BUDGET_BYTES); refused"
    )


def _decode_first_frame(image: Image.Image, fp: BinaryIO) -> None:
    """Decode the first frame within the budget, or refuse it; the pixels are discarded."""
    try:
        image.seek(0)
        need, budget = decoded_bytes(image), decode_budget()
        if image.format in DCT_SCALED_FORMATS:
            image.draft(image.mode, (PROBE_DECODE_EDGE, PROBE_DECODE_EDGE))
        elif need > budget:
            if not png_bandable(image):
                raise InvalidImage(_too_large(image, need, budget))
            png_verify(fp, image)
            return
        image.load()
    except InvalidImage:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's, not ours
        raise InvalidImage(_decoder_reason(exc)) from exc


def probe_image(*, fp: BinaryIO) -> ImageProbe:
    """Describe the image in fp, or raise InvalidImage with a reason a person can act on."""
    fp.seek(0, 2)
    if fp.tell() == 0:
        raise InvalidImage("empty file (0 bytes)")
    fp.seek(0)
    image = open_image(fp)
    try:
        fmt, (width, height), mode = image.format or "", image.size, image.mode
        try:
            frames = getattr(image, "n_frames", 1)
        except Exception as exc:  # noqa: BLE001 - counting frames reads them all
            raise InvalidImage(_decoder_reason(exc)) from exc
        exif = exif_extract(image)
        _decode_first_frame(image, fp)
    finally:
        image.close()
    if width <= 0 or height <= 0:
        raise InvalidImage(f"image has no pixels ({width}×{height})")
    if exif.get("Orientation") in ROTATING_ORIENTATIONS:
        width, height = height, width  # stored as displayed, after EXIF orientation
    return ImageProbe(format=fmt, width=width, height=height, mode=mode, frames=frames, exif=exif)
