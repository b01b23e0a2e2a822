"""Tests for dedup.imaging: fingerprints of in-memory images in many formats and failure modes."""

from __future__ import annotations

import io
import re

import imagehash
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageDraw, ImageFile
from skimage import data as skdata

from dedup import imaging
from dedup.imaging import ImageDecodeError, fingerprint_image


def _textured(*, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Draw an asymmetric RGB scene (2-D gradient plus shapes) with plenty of structure."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], axis=-1).astype(
        np.uint8
    )
    im = Image.fromarray(base, mode="RGB")
    draw = ImageDraw.Draw(im)
    draw.ellipse((w * 0.1, h * 0.1, w * 0.45, h * 0.6), fill=(250, 40, 40))
    draw.rectangle((w * 0.55, h * 0.2, w * 0.9, h * 0.45), fill=(20, 20, 200))
    draw.polygon([(w * 0.6, h * 0.9), (w * 0.95, h * 0.6), (w * 0.7, h * 0.55)], fill=(0, 0, 0))
    draw.line((0, h, w * 0.5, 0), fill=(255, 255, 0), width=max(2, w // 60))
    return im


def _encode(im: Image.Image, fmt: str, **params) -> io.BytesIO:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    buf.seek(0)
    return buf


def _phash_of(im: Image.Image) -> int:
    return imaging.hash_to_int(image_hash=imagehash.phash(im))


def _dist(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_jpeg_rgb_fingerprint_fields():
    im = _textured()
    fp = fingerprint_image(fp=_encode(im, "JPEG", quality=92))
    assert (fp.width, fp.height, fp.format, fp.mode, fp.frames) == (640, 480, "JPEG", "RGB", 1)
    assert fp.hash_version == imaging.HASH_VERSION
    assert 0 <= fp.phash < 2**64 and 0 <= fp.dhash < 2**64
    assert not fp.low_information
    assert _dist(fp.phash, _phash_of(im)) <= 2


def test_hash_to_int_matches_hex_string():
    h = imagehash.phash(_textured())
    assert imaging.hash_to_int(image_hash=h) == int(str(h), 16)


def test_hash_version_names_libraries():
    assert "imagehash=" in imaging.HASH_VERSION and "pillow=" in imaging.HASH_VERSION


def test_png_and_jpeg_of_same_image_agree():
    im = _textured()
    jpg = fingerprint_image(fp=_encode(im, "JPEG", quality=90))
    png = fingerprint_image(fp=_encode(im, "PNG"))
    assert png.format == "PNG"
    assert _dist(jpg.phash, png.phash) <= 2
    assert _dist(jpg.dhash, png.dhash) <= 4


def test_resized_copy_is_near():
    im = _textured(size=(1600, 1200))
    big = fingerprint_image(fp=_encode(im, "JPEG", quality=90))
    small = fingerprint_image(fp=_encode(im.resize((400, 300), Image.Resampling.LANCZOS), "PNG"))
    assert _dist(big.phash, small.phash) <= 4
    assert _dist(big.dhash, small.dhash) <= 6


def test_exif_orientation_six_is_undone():
    im = _textured()
    # Orientation 6 means "rotate 90 degrees clockwise to display", so store it rotated back.
    stored = im.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    rotated = fingerprint_image(fp=_encode(stored, "JPEG", quality=92, exif=exif.tobytes()))
    upright = fingerprint_image(fp=_encode(im, "JPEG", quality=92))
    assert (rotated.width, rotated.height) == (640, 480)
    assert _dist(rotated.phash, upright.phash) <= 2
    assert _dist(rotated.dhash, upright.dhash) <= 4
    assert _dist(rotated.phash, _phash_of(stored)) > 10


_INVERSE_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(_INVERSE_ORIENTATION))
def test_every_exif_orientation_in_png(orientation: int):
    im = _textured()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    stored = im.transpose(_INVERSE_ORIENTATION[orientation])
    fp = fingerprint_image(fp=_encode(stored, "PNG", exif=exif.tobytes()))
    upright = fingerprint_image(fp=_encode(im, "PNG"))
    assert (fp.width, fp.height) == (640, 480)
    assert (fp.phash, fp.dhash) == (upright.phash, upright.dhash)


def test_cmyk_jpeg():
    im = _textured()
    fp = fingerprint_image(fp=_encode(im.convert("CMYK"), "JPEG", quality=92))
    assert fp.mode == "CMYK"
    assert _dist(fp.phash, _phash_of(im)) <= 3


def test_sixteen_bit_png_is_scaled_not_clipped():
    gray = _textured().convert("L")
    wide = np.asarray(gray, dtype=np.uint16) * 257
    fp = fingerprint_image(fp=_encode(Image.fromarray(wide), "PNG"))
    assert fp.mode.startswith("I")
    assert not fp.low_information
    assert _dist(fp.phash, _phash_of(gray)) <= 2


def test_rgba_png_composited_on_white():
    im = _textured().convert("RGBA")
    ImageDraw.Draw(im).rectangle((100, 100, 400, 300), fill=(0, 0, 0, 0))
    expected = Image.new("RGB", im.size, (255, 255, 255))
    expected.paste(im.convert("RGB"), mask=im.getchannel("A"))
    fp = fingerprint_image(fp=_encode(im, "PNG"))
    assert fp.mode == "RGBA"
    assert _dist(fp.phash, _phash_of(expected)) <= 2
    # Transparent pixels keep their black colour values; hashing them would differ a lot.
    assert _dist(fp.phash, _phash_of(im.convert("RGB"))) > 6


def test_palette_with_transparency():
    im = _textured().quantize(colors=64)
    im.info["transparency"] = 0
    buf = _encode(im, "PNG", transparency=0)
    expected = Image.new("RGB", im.size, (255, 255, 255))
    rgba = im.convert("RGBA")
    expected.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    fp = fingerprint_image(fp=buf)
    assert fp.mode == "P"
    assert _dist(fp.phash, _phash_of(expected)) <= 2


def test_bilevel_image():
    im = _textured().convert("L").point(lambda v: 255 if v > 110 else 0).convert("1")
    fp = fingerprint_image(fp=_encode(im, "PNG"))
    assert fp.mode == "1"
    assert _dist(fp.phash, _phash_of(im.convert("L"))) <= 2


def _two_frames() -> tuple[Image.Image, Image.Image]:
    first = _textured(size=(320, 240))
    second = first.transpose(Image.Transpose.ROTATE_180)
    return first, second


def test_animated_gif_uses_first_frame():
    first, second = _two_frames()
    buf = _encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    fp = fingerprint_image(fp=buf)
    assert (fp.format, fp.frames, fp.width, fp.height) == ("GIF", 2, 320, 240)
    assert _dist(fp.phash, _phash_of(first)) <= 4
    assert _dist(fp.phash, _phash_of(second)) > 10


def test_multipage_tiff_uses_first_page():
    first, second = _two_frames()
    fp = fingerprint_image(fp=_encode(first, "TIFF", save_all=True, append_images=[second]))
    assert (fp.format, fp.frames) == ("TIFF", 2)
    assert _dist(fp.phash, _phash_of(first)) <= 2


def test_flat_images_are_low_information():
    for colour in ((255, 255, 255), (0, 0, 0), (128, 100, 90)):
        fp = fingerprint_image(fp=_encode(Image.new("RGB", (300, 200), colour), "JPEG"))
        assert fp.low_information, colour
    two_tone = Image.new("L", (300, 200), 0)
    ImageDraw.Draw(two_tone).rectangle((150, 0, 300, 200), fill=255)
    assert fingerprint_image(fp=_encode(two_tone, "PNG")).low_information


def test_textured_image_is_not_low_information():
    photo = Image.fromarray(skdata.astronaut())
    assert not fingerprint_image(fp=_encode(photo, "JPEG", quality=85)).low_information
    assert not fingerprint_image(fp=_encode(_textured(), "PNG")).low_information


def test_non_seekable_stream_is_accepted():
    raw = _encode(_textured(), "JPEG").getvalue()

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._buf = io.BytesIO(raw)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self._buf.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    assert fingerprint_image(fp=Pipe()).width == 640


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty file (0 bytes)"),
        (b"hello, this is plain text and not an image\n" * 20, "not an image Pillow can read"),
    ],
)
def test_unreadable_inputs(payload: bytes, message: str):
    with pytest.raises(ImageDecodeError, match=re.escape(message)):
        fingerprint_image(fp=io.BytesIO(payload))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file(fmt: str):
    raw = _encode(_textured(), fmt).getvalue()
    with pytest.raises(ImageDecodeError, match="truncated or corrupt image data"):
        fingerprint_image(fp=io.BytesIO(raw[: len(raw) // 2]))


def test_load_truncated_images_flag_is_refused(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError):
        fingerprint_image(fp=_encode(_textured(), "PNG"))


@pytest.mark.parametrize("limit", [640 * 480 - 1, 640 * 480 // 2 - 1])
def test_decompression_bomb(monkeypatch, limit: int):
    # The first limit trips Pillow's warning band, the second its hard error band.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    expected = f"decompression bomb: {640 * 480} pixels exceeds the limit of {limit}"
    with pytest.raises(ImageDecodeError, match=re.escape(expected)):
        fingerprint_image(fp=_encode(_textured(), "PNG"))


def test_signed_unsigned_round_trip():
    for u in (0, 1, 2**63 - 1, 2**63, 2**64 - 1, 0xC2924C5532BDDFC8):
        s = imaging.signed64(u)
        assert -(2**63) <= s < 2**63
        assert imaging.unsigned64(s) == u
    assert imaging.signed64(2**64 - 1) == -1
    with pytest.raises(ValueError):
        imaging.signed64(2**64)
    with pytest.raises(ValueError):
        imaging.unsigned64(2**63)


def test_draft_decode_drift_on_large_photo():
    photo = Image.fromarray(skdata.astronaut()).resize((3000, 2000), Image.Resampling.BICUBIC)
    raw = _encode(photo, "JPEG", quality=90).getvalue()
    fast = fingerprint_image(fp=io.BytesIO(raw))
    reference = _phash_of(Image.open(io.BytesIO(raw)))
    assert (fast.width, fast.height) == (3000, 2000)
    assert _dist(fast.phash, reference) <= 4
