"""Helpers for judgement tests: camera EXIF, lossless EXIF swaps, judging two byte strings."""

import io

from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from dedup.imaging import fingerprint_image
from dedup.judge import Verdict, file_side, files_judge


def camera_exif(
    *,
    serial="SN-1",
    when="2024:05:01 10:00:00",
    subsec=None,
    bias=None,
    exposure=None,
    number=None,
    unique_id=None,
    orientation=None,
) -> Image.Exif:
    """EXIF as a camera writes it; only the given fields are set."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Keepsake"
    exif[ExifTags.Base.Model] = "Test Camera"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    values = {
        ExifTags.Base.BodySerialNumber: serial,
        ExifTags.Base.DateTimeOriginal: when,
        ExifTags.Base.SubsecTimeOriginal: subsec,
        ExifTags.Base.ExposureBiasValue: None
        if bias is None
        else IFDRational(round(bias * 10), 10),
        ExifTags.Base.ExposureTime: None if exposure is None else IFDRational(*exposure),
        ExifTags.Base.ImageNumber: number,
        ExifTags.Base.ImageUniqueID: unique_id,
    }
    for tag, value in values.items():
        if value is not None:
            ifd[tag] = value
    return exif


def jpeg_with_exif(data: bytes, exif: Image.Exif | None) -> bytes:
    """The same JPEG image data with its EXIF segment replaced (no re-encoding)."""
    out, pos = [data[:2]], 2
    if exif is not None:
        payload = exif.tobytes()
        out.append(b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload)
    while pos < len(data):
        marker = data[pos : pos + 2]
        if marker == b"\xff\xda":
            out.append(data[pos:])
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos : pos + 2 + length]
        if not (marker == b"\xff\xe1" and segment[4:10] == b"Exif\x00\x00"):
            out.append(segment)
        pos += 2 + length
    return b"".join(out)


def judged(data_a: bytes, data_b: bytes) -> Verdict:
    """Judge two in-memory files as the app does, with their real hash distances."""
    fp_a, fp_b = io.BytesIO(data_a), io.BytesIO(data_b)
    hash_a, hash_b = fingerprint_image(fp=fp_a), fingerprint_image(fp=fp_b)
    return files_judge(
        side_a=file_side(fp=fp_a),
        side_b=file_side(fp=fp_b),
        fp_a=fp_a,
        fp_b=fp_b,
        phash_distance=(hash_a.phash ^ hash_b.phash).bit_count(),
        dhash_distance=(hash_a.dhash ^ hash_b.dhash).bit_count(),
    )
