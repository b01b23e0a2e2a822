"""Open an image once, cheaply, and tell whether Keepsake can store it.

The probe reads the header (format, size, mode, frames, EXIF) and decodes the first frame
at reduced scale where the format allows it (JPEG DCT scaling), which still reads every
byte of compressed data, so truncated files are caught without a full-size decode.
"""

import warnings
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from archive.errors import InvalidImage

# Truncated files must fail loudly; a silently grey-padded image would be stored as good.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ROTATING_ORIENTATIONS = {5, 6, 7, 8}
PROBE_DECODE_EDGE = 512

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


def open_image(fp: BinaryIO) -> Image.Image:
    """Open lazily; above Image.MAX_IMAGE_PIXELS (set from settings) the file is a bomb."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit; both are refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(_CallerOwnedFile(fp))
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


def _decode_first_frame(image: Image.Image) -> None:
    try:
        image.seek(0)
        if image.format == "JPEG":
            image.draft(image.mode, (PROBE_DECODE_EDGE, PROBE_DECODE_EDGE))
        image.load()
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
        _decode_first_frame(image)
    finally:
        image.close()
    if width <= 0 or height <= 0:
        raise InvalidImage(f"image has no pixels ({width}×{height})")
    if exif.get("Orientation") in ROTATING_ORIENTATIONS:
        width, height = height, width  # stored as displayed, after EXIF orientation
    return ImageProbe(format=fmt, width=width, height=height, mode=mode, frames=frames, exif=exif)
