"""Pixel twins (the same decoded pixels in different bytes) are frozen by a hold on either.

The pictures are generated (size, mode, pixels) and each is written twice in lossless
ways that change the bytes: another container (PNG, BMP, TIFF, lossless WebP), another
compression, text metadata, or stored turned with an EXIF orientation that turns it back.
A copy differing in one pixel value is a different picture and is never frozen with it.
"""

import io

import numpy as np
import pytest
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from archive.actors import SYSTEM
from archive.audit import audited
from archive.holds import legal_hold_place
from archive.lifecycle import Transition, asset_lock, asset_transition
from archive.models import Asset
from archive.selectors import asset_active_holds, asset_is_frozen, frozen_asset_ids
from dedup.imaging import fingerprint_image, pixel_sha256
from dedup.models import Fingerprint
from tests.archive.helpers import ingest_bytes
from tests.archive.people import compliance_officer

BANDS = {"RGB": 3, "L": 1, "RGBA": 4}
# Encodings that give back exactly the pixels (and mode) they were given, per mode.
CONTAINERS = {
    "RGB": ["png", "png-text", "png-small", "bmp", "tiff", "tiff-lzw", "webp", "png-turned"],
    "L": ["png", "png-text", "png-small", "bmp", "tiff", "tiff-lzw", "png-turned"],
    "RGBA": ["png", "png-text", "tiff", "tiff-lzw", "webp", "tiff-turned"],
}
SUFFIX = {"png": "png", "bmp": "bmp", "tiff": "tif", "webp": "webp"}
# For each EXIF orientation, how to store a picture so that orientation displays it upright.
STORED_TURN = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@st.composite
def pictures(draw) -> Image.Image:
    mode = draw(st.sampled_from(sorted(BANDS)))
    width, height = draw(st.integers(2, 48)), draw(st.integers(2, 48))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Coarse blocks plus noise: structure for the perceptual hashes, detail for the digest.
    blocks = rng.integers(0, 256, (height // 4 + 1, width // 4 + 1, BANDS[mode]), np.uint8)
    pixels = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[:height, :width]
    pixels = (pixels + rng.integers(0, 8, pixels.shape, np.uint8)).astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


def encode(image: Image.Image, container: str, *, note: str, orientation: int) -> bytes:
    """Write image losslessly in container; note and orientation vary the bytes."""
    buffer = io.BytesIO()
    fmt, _, variant = container.partition("-")
    params: dict = {}
    if variant == "text":
        info = PngInfo()
        info.add_text("Description", note)
        params["pnginfo"] = info
    elif variant == "small":
        params["compress_level"] = 9
    elif variant == "lzw":
        params["compression"] = "tiff_lzw"
    elif variant == "turned":
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
        image = image.transpose(STORED_TURN[orientation])
    if fmt == "webp":
        params.update(lossless=True, quality=100, exact=True)
    if fmt == "tiff" and variant != "turned":
        params["tiffinfo"] = {270: note}
    image.save(buffer, fmt.upper(), **params)
    return buffer.getvalue()


def one_pixel_off(image: Image.Image) -> Image.Image:
    pixels = np.array(image)
    pixels.flat[0] = (int(pixels.flat[0]) + 1) % 256
    return Image.fromarray(pixels, image.mode)


@st.composite
def twin_files(draw):
    """A picture written twice (different bytes, same pixels) and a near copy of it."""
    image = draw(pictures())
    first, second = draw(st.lists(st.sampled_from(CONTAINERS[image.mode]), min_size=2, max_size=2))
    notes = draw(st.lists(st.text("abcxyz ", max_size=8), min_size=2, max_size=2))
    orientations = draw(st.lists(st.sampled_from(sorted(STORED_TURN)), min_size=2, max_size=2))
    a = encode(image, first, note=notes[0], orientation=orientations[0])
    b = encode(image, second, note=notes[1], orientation=orientations[1])
    assume(a != b)
    near = encode(one_pixel_off(image), first, note=notes[0], orientation=orientations[0])
    names = (f"a.{SUFFIX[first.split('-')[0]]}", f"b.{SUFFIX[second.split('-')[0]]}")
    return (a, b, near), names


def digest(data: bytes) -> str:
    return fingerprint_image(fp=io.BytesIO(data)).pixel_sha256


class TestPixelDigest:
    @settings(max_examples=150, deadline=None)
    @given(twin_files())
    def test_lossless_rewrites_share_the_digest_and_a_changed_pixel_does_not(self, files):
        (a, b, near), _names = files

        assert digest(a) == digest(b) != ""
        assert digest(near) != digest(a)

    @settings(max_examples=40, deadline=None)
    @given(pictures(), st.sampled_from(sorted(STORED_TURN)))
    def test_the_digest_is_of_the_picture_as_displayed(self, image, orientation):
        """Stored turned with an orientation tag = the upright picture; in strips = whole."""
        turned = encode(image, "png-turned", note="", orientation=orientation)
        upright = Image.frombytes(image.mode, image.size, image.tobytes())

        assert digest(turned) == pixel_sha256(im=upright)

    def test_strips_hash_like_the_whole_frame(self, monkeypatch):
        rng = np.random.default_rng(7)
        image = Image.fromarray(rng.integers(0, 256, (61, 47, 3), np.uint8), "RGB")
        whole = {o: pixel_sha256(im=image, orientation=o) for o in [1, *STORED_TURN]}
        monkeypatch.setattr("dedup.imaging.PIXEL_DIGEST_STRIP_BYTES", 300)

        assert {o: pixel_sha256(im=image, orientation=o) for o in whole} == whole

    def test_mode_and_size_are_part_of_the_digest(self):
        flat = Image.new("L", (8, 2), 40)

        assert pixel_sha256(im=flat) != pixel_sha256(im=Image.new("L", (2, 8), 40))
        assert pixel_sha256(im=flat) != pixel_sha256(im=Image.new("P", (8, 2), 40))

    def test_multi_frame_files_get_no_digest(self):
        buffer = io.BytesIO()
        frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
        frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])

        assert digest(buffer.getvalue()) == ""

    def test_jpeg_digest_is_of_the_full_size_pixels(self):
        rng = np.random.default_rng(3)
        image = Image.fromarray(rng.integers(0, 256, (600, 800, 3), np.uint8), "RGB")
        data = io.BytesIO()
        image.save(data, "JPEG", quality=90)
        decoded = Image.open(io.BytesIO(data.getvalue()))
        decoded.load()

        assert digest(data.getvalue()) == pixel_sha256(im=decoded)


@pytest.fixture
def officer(db):
    return compliance_officer()


def ingest(data: bytes, *, collection, path: str) -> Asset:
    outcome = ingest_bytes(data, collection=collection, path=path)
    assert outcome.asset is not None, outcome
    return outcome.asset


@pytest.mark.django_db
class TestPixelTwinsFrozen:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(files=twin_files(), hold_on_first=st.booleans())
    def test_a_hold_on_either_twin_freezes_both_and_not_a_near_copy(
        self, officer, collection, files, hold_on_first
    ):
        (a, b, near), (name_a, name_b) = files
        with transaction.atomic():
            first = ingest(a, collection=collection, path=name_a)
            second = ingest(b, collection=collection, path=name_b)
            other = ingest(near, collection=collection, path="near-" + name_a)
            assert len({first.pk, second.pk, other.pk}) == 3
            held, twin = (first, second) if hold_on_first else (second, first)

            legal_hold_place(matter_reference="M-1", reason="r", assets=[held], actor=officer)

            assert asset_is_frozen(asset=twin) is True
            assert [h.matter_reference for h in asset_active_holds(asset=twin)] == ["M-1"]
            assert asset_is_frozen(asset=other) is False
            assert set(frozen_asset_ids().values_list("pk", flat=True)) == {first.pk, second.pk}
            transaction.set_rollback(True)

    def test_the_digest_is_stored_with_the_fingerprint(self, collection):
        image = Image.new("RGB", (16, 16), "teal")
        asset = ingest(
            encode(image, "png", note="", orientation=1), collection=collection, path="t.png"
        )

        assert Fingerprint.objects.get(asset=asset).pixel_sha256 == pixel_sha256(im=image)


def replace(asset: Asset, *, by: Asset) -> None:
    """Fold asset into another the way a consolidation does (the lifecycle's replace)."""
    with audited():
        asset_transition(
            asset=asset_lock(asset),
            transition=Transition.REPLACE,
            actor=SYSTEM,
            changes={"replaced_by": by},
        )


@pytest.mark.django_db
class TestReplacedAssetsFrozen:
    @pytest.fixture
    def chain(self, collection):
        """c replaced by b, b replaced by a: a stands for all three."""
        pictures_ = [Image.new("RGB", (16, 16), colour) for colour in ("red", "green", "blue")]
        a, b, c = (
            ingest(encode(p, "png", note="", orientation=1), collection=collection, path=f"{i}.png")
            for i, p in enumerate(pictures_)
        )
        replace(b, by=a)
        replace(c, by=b)
        return a, b, c

    def test_a_hold_on_the_canonical_freezes_the_assets_folded_into_it(self, officer, chain):
        a, b, c = chain
        legal_hold_place(matter_reference="M-1", reason="r", assets=[a], actor=officer)

        assert {asset_is_frozen(asset=x) for x in chain} == {True}
        assert set(frozen_asset_ids().values_list("pk", flat=True)) == {a.pk, b.pk, c.pk}

    def test_a_hold_on_a_replaced_asset_freezes_its_canonical(self, officer, chain):
        a, b, c = chain
        legal_hold_place(matter_reference="M-1", reason="r", assets=[c], actor=officer)

        assert asset_is_frozen(asset=a) is True
        assert [h.matter_reference for h in asset_active_holds(asset=a)] == ["M-1"]
        assert set(frozen_asset_ids().values_list("pk", flat=True)) == {a.pk, b.pk, c.pk}

    def test_unrelated_assets_stay_free(self, officer, collection, chain):
        free = ingest(
            encode(Image.new("RGB", (16, 16), "white"), "png", note="", orientation=1),
            collection=collection,
            path="free.png",
        )
        legal_hold_place(matter_reference="M-1", reason="r", assets=[chain[0]], actor=officer)

        assert asset_is_frozen(asset=free) is False


@pytest.mark.django_db
def test_fingerprints_from_before_pixel_digests_are_backfilled(officer, collection):
    """`manage.py fingerprint` recomputes fingerprints lacking a digest; twins then freeze."""
    from django.core.management import call_command

    from dedup.selectors import assets_lacking_fingerprint

    image = Image.new("RGB", (16, 16), "teal")
    first = ingest(
        encode(image, "png", note="", orientation=1), collection=collection, path="t.png"
    )
    second = ingest(
        encode(image, "bmp", note="", orientation=1), collection=collection, path="t.bmp"
    )
    Fingerprint.objects.update(pixel_sha256="")  # as migrated: the column exists, empty
    legal_hold_place(matter_reference="M-1", reason="r", assets=[first], actor=officer)
    assert asset_is_frozen(asset=second) is False
    assert set(assets_lacking_fingerprint()) == {first, second}

    call_command("fingerprint", "--workers", "1", "--no-progress", stdout=io.StringIO())

    assert asset_is_frozen(asset=second) is True
    assert not assets_lacking_fingerprint().exists()
