"""Memory: probing and fingerprinting never decode a frame whole beyond the decode budget.

A 144-megapixel PNG of under a megabyte used to cost a full-size decode (558 MiB) per
upload; it is now read a band of rows at a time. Banded results are the same as whole
ones (hashes and pixel digests), and what cannot be banded is refused with its figures.
"""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from archive import imaging as probe_module
from archive.errors import InvalidImage
from archive.imaging import probe_image
from dedup import imaging as dedup_imaging
from dedup.imaging import fingerprint_image
from tests.fuzz.malformed import encode, picture, png_streamed

ROOT = Path(__file__).resolve().parents[2]

MEASURE = """
import json, resource, sys
sys.path.insert(0, {root!r})
from PIL import Image
from archive.imaging import probe_image
from dedup.imaging import fingerprint_image
Image.MAX_IMAGE_PIXELS = 178956970  # as settings.KEEPSAKE_MAX_IMAGE_PIXELS
with open({path!r}, "rb") as fp:
    probe = probe_image(fp=fp)
    fp.seek(0)
    print_ = fingerprint_image(fp=fp)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"peak_kib": peak, "size": [probe.width, probe.height]}}))
"""


def _peak_mib(path: Path) -> tuple[float, list]:
    code = MEASURE.format(root=str(ROOT), path=str(path))
    done = subprocess.run(  # noqa: S603 - the interpreter running the tests, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["peak_kib"] / 1024, found["size"]


def _rows(width):
    def row(y):
        shade = (y // 1500) * 30 % 256
        return bytes([shade, 255 - shade, (shade * 7) % 256]) * width

    return row


def test_a_144_megapixel_png_is_probed_and_fingerprinted_in_bounded_memory(tmp_path):
    small, big = tmp_path / "small.png", tmp_path / "big.png"
    small.write_bytes(encode(picture(), "PNG"))
    with open(big, "wb") as fp:
        png_streamed(fp, 12000, 12000, rows=_rows(12000))
    assert big.stat().st_size < 1 << 20  # under a megabyte on disk, 432 MB of pixels

    baseline, _ = _peak_mib(small)
    peak, size = _peak_mib(big)

    assert size == [12000, 12000]
    # A whole decode alone is 549 MiB (RGB is kept as 4 bytes a pixel).
    assert peak - baseline < 120, f"{peak:.0f} MiB peak against {baseline:.0f} MiB at rest"


@pytest.fixture
def tiny_budget(monkeypatch):
    """Every frame is over budget; bands are a few rows, so every path is exercised."""
    monkeypatch.setattr(probe_module, "decode_budget", lambda: 1)
    monkeypatch.setattr(dedup_imaging, "decode_budget", lambda: 1)
    monkeypatch.setattr(probe_module, "BAND_BYTES", 4096)
    monkeypatch.setattr(dedup_imaging, "BAND_BYTES", 4096)


def _png(mode: str, size, *, seed: int, optimize: bool, orientation: int) -> bytes:
    image = picture(size=size).rotate(seed % 360, expand=False)
    params = {"optimize": optimize}
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        params["transparency"] = seed % 64
    else:
        image = image.convert(mode)
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    return encode(image, "PNG", **params)


png_cases = st.tuples(
    st.sampled_from(["L", "LA", "RGB", "RGBA", "P", "I;16"]),
    st.tuples(st.integers(1, 700), st.integers(1, 700)),
    st.integers(0, 1000),
    st.booleans(),
    st.sampled_from([1, 1, 2, 3, 6]),
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=png_cases)
def test_banded_fingerprints_equal_whole_ones(monkeypatch, case):
    mode, size, seed, optimize, orientation = case
    data = _png(mode, size, seed=seed, optimize=optimize, orientation=orientation)
    whole = fingerprint_image(fp=io.BytesIO(data))
    with monkeypatch.context() as patch:
        patch.setattr(dedup_imaging, "decode_budget", lambda: 1)
        patch.setattr(dedup_imaging, "BAND_BYTES", 4096)
        try:
            banded = fingerprint_image(fp=io.BytesIO(data))
        except dedup_imaging.ImageDecodeError as exc:
            # Only layouts that cannot be banded (16-bit, fewer than 8 bits) may refuse.
            assert not probe_module.png_bandable(Image.open(io.BytesIO(data)))
            assert "memory budget" in str(exc)
            return
        patch.setattr(dedup_imaging, "decode_budget", lambda: 1 << 40)
        whole_in_bands = fingerprint_image(fp=io.BytesIO(data))
    assert (banded.phash, banded.dhash, banded.low_information) == (
        whole.phash,
        whole.dhash,
        whole.low_information,
    )
    assert (whole_in_bands.phash, whole_in_bands.dhash) == (whole.phash, whole.dhash)
    # A banded digest is never a wrong one: present, it equals the whole decode's.
    if banded.pixel_sha256:
        assert banded.pixel_sha256 == whole.pixel_sha256
    if orientation in (1, 2):
        assert banded.pixel_sha256 == whole.pixel_sha256 != ""
    assert (banded.width, banded.height) == (whole.width, whole.height)


def test_a_sixteen_bit_frame_hashes_the_same_in_bands(monkeypatch):
    data = encode(picture(size=(300, 200), mode="L").convert("I;16"), "PNG")
    whole = fingerprint_image(fp=io.BytesIO(data))
    monkeypatch.setattr(dedup_imaging, "BAND_BYTES", 4096)

    banded = fingerprint_image(fp=io.BytesIO(data))

    assert (banded.phash, banded.dhash, banded.pixel_sha256) == (
        whole.phash,
        whole.dhash,
        whole.pixel_sha256,
    )


def test_over_the_budget_a_png_is_checked_in_bands_and_others_refused(tiny_budget):
    png = encode(picture(size=(300, 200)), "PNG")
    tiff = encode(picture(size=(300, 200)), "TIFF")

    assert probe_image(fp=io.BytesIO(png)).width == 300
    with pytest.raises(InvalidImage, match=r"300×200 RGB needs 0 MiB to decode, above"):
        probe_image(fp=io.BytesIO(tiff))
    with pytest.raises(InvalidImage, match="truncated"):
        probe_image(fp=io.BytesIO(png[: len(png) - 60]))


def test_over_the_budget_a_jpeg_is_probed_dct_scaled(tiny_budget):
    jpeg = encode(picture(size=(1600, 1200)), "JPEG")

    probe = probe_image(fp=io.BytesIO(jpeg))
    fingerprint = fingerprint_image(fp=io.BytesIO(jpeg))

    assert (probe.width, probe.height) == (1600, 1200)
    assert fingerprint.pixel_sha256 == ""  # the digest needs the whole frame: skipped


def test_postscript_is_never_handed_to_ghostscript():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"

    with pytest.raises(InvalidImage, match="unrecognised format"):
        probe_image(fp=io.BytesIO(eps))


def test_a_png_with_corrupt_image_data_is_refused():
    """Looking for EXIF used to decode the PNG and swallow the failure, so it was stored."""
    png = encode(picture(), "PNG")
    idat = png.find(b"IDAT")
    broken = png[: idat + 4] + b"\x13" * 20 + png[idat + 24 :]

    with pytest.raises(InvalidImage, match="corrupt"):
        probe_image(fp=io.BytesIO(broken))
