"""Mutated images of every format Pillow writes here: the probe stores or refuses, never crashes.

Each example takes a valid file and flips, truncates, duplicates or inserts bytes; the probe
must return a description or raise `InvalidImage` (a recorded rejection with a reason).
Anything else would abort a batch or answer 500. `make fuzz` runs many more examples.
"""

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from archive.errors import InvalidImage
from archive.imaging import probe_image
from tests.conftest import make_scene
from tests.fuzz.mutations import mutate

EXAMPLES = int(os.environ.get("KEEPSAKE_FUZZ_EXAMPLES", "60"))
FORMATS = ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "ICO", "TGA", "PCX"]


def _seed(fmt: str) -> bytes:
    image = make_scene(5, size=(64, 48))
    buffer = io.BytesIO()
    image.convert("P" if fmt == "GIF" else "RGB").save(buffer, fmt)
    return buffer.getvalue()


SEEDS = {fmt: _seed(fmt) for fmt in FORMATS}


@st.composite
def mutated(draw):
    fmt = draw(st.sampled_from(FORMATS))
    return fmt, mutate(draw, SEEDS[fmt], min_ops=1, max_ops=6)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("KEEPSAKE_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_a_mutated_file_is_described_or_refused_with_a_reason(case):
    fmt, data = case
    try:
        probe = probe_image(fp=io.BytesIO(data))
    except InvalidImage as exc:
        assert exc.message
    else:
        assert probe.width > 0 and probe.height > 0 and probe.format


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_seed_format_is_stored(fmt):
    """The seeds themselves are valid: what the fuzz refuses, it refuses for the mutation."""
    probe = probe_image(fp=io.BytesIO(SEEDS[fmt]))
    assert (probe.width, probe.height) == Image.open(io.BytesIO(SEEDS[fmt])).size


def _png_with_chunk(kind: bytes, body: bytes) -> bytes:
    import struct
    import zlib

    data = SEEDS["PNG"]
    chunk = struct.pack(">I", len(body)) + kind + body
    chunk += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return data[:33] + chunk + data[33:]  # right after IHDR


def test_a_text_chunk_bomb_is_refused_with_a_reason():
    """200 KB of zTXt that inflates to 200 MB: refused before anything inflates it all."""
    import zlib

    bomb = _png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (200 << 20), 9))
    assert len(bomb) < 300_000
    with pytest.raises(InvalidImage, match="text-chunk bomb"):
        probe_image(fp=io.BytesIO(bomb))
