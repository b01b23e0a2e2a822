"""Shared fixtures: users, collections and images drawn in memory with Pillow."""

import io

import pytest
from django.contrib.auth import get_user_model
from PIL import Image, ImageDraw

from archive.services import collection_get_or_create


def make_image(colour="teal", size=(96, 64), mode="RGB", pattern=True) -> Image.Image:
    """A small test picture: a coloured field with shapes, so hashes are not degenerate."""
    image = Image.new("RGB", size, colour)
    if pattern:
        draw = ImageDraw.Draw(image)
        w, h = size
        draw.rectangle([w // 8, h // 8, w // 2, h // 2], fill="white")
        draw.ellipse([w // 2, h // 3, w - 4, h - 4], fill="black")
        draw.line([0, h - 1, w - 1, 0], fill="orange", width=3)
    return image.convert(mode) if mode != "RGB" else image


def image_bytes(image: Image.Image, fmt="JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("archivist", password="x")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("curator", password="x")


@pytest.fixture
def collection(db):
    return collection_get_or_create(name="Field photos")


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Give every test its own empty storage tiers, so file counts mean something."""
    media = tmp_path / "media"
    local = "django.core.files.storage.FileSystemStorage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": local, "OPTIONS": {"location": media / "derived"}},
        **{
            tier: {"BACKEND": local, "OPTIONS": {"location": media / tier}}
            for tier in settings.STORAGE_TIERS
        },
    }
    return media


def make_scene(seed: int, size=(320, 240)) -> Image.Image:
    """A busy picture of random shapes; different seeds give unrelated perceptual hashes."""
    import random

    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(14):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randrange(20, w // 2), y0 + rng.randrange(20, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x1, y1], fill=colour)
    return image


@pytest.fixture(scope="session", autouse=True)
def flush_lifts_append_only():
    """Let the flush that ends each transactional test empty the append-only tables.

    The database refuses DELETE and TRUNCATE on audit events and assets (archive.append_only),
    and Django's TransactionTestCase (which pytest-django's transactional tests use too)
    flushes every table afterwards; the triggers are lifted for that flush only.
    """
    from django.test import TransactionTestCase

    from tests.archive.db_protection import append_only_lifted

    original = TransactionTestCase._fixture_teardown

    def _fixture_teardown(self):
        with append_only_lifted():
            original(self)

    TransactionTestCase._fixture_teardown = _fixture_teardown
    yield
    TransactionTestCase._fixture_teardown = original
