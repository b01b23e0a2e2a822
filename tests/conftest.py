"""Shared fixtures: users, collections, images drawn in memory with Pillow, a clock."""

import datetime as dt
import io
import os
import time

import pytest
from django.contrib.auth import get_user_model
from hypothesis import settings as hypothesis_settings
from PIL import Image, ImageDraw

from archive.services import collection_get_or_create

# The suite searches the same examples on every run (a fixed seed per test), so CI is
# reproducible; tests that search at random on purpose (soak, fuzz) say so themselves.
# HYPOTHESIS_PROFILE=random searches afresh.
hypothesis_settings.register_profile("suite", derandomize=True, database=None)
hypothesis_settings.register_profile("random")
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


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
def fresh_cache():
    """Figures cached by one test (dedup.reclaimable) never reach the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fresh_lookup_memory():
    """The in-memory pHash index built by one test never answers for the next."""
    from dedup.lookup_memory import memory_lookup_reset

    memory_lookup_reset()
    yield
    memory_lookup_reset()


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
    settings.KEEPSAKE_RELEASES_ROOT = tmp_path / "releases"
    return media


@pytest.fixture(scope="session")
def audit_signing_pem() -> str:
    """A throwaway Ed25519 key for this test run's audit checkpoints."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode("ascii")


@pytest.fixture(autouse=True)
def audit_signing_key(settings, audit_signing_pem):
    """Checkpoints in tests are signed with the throwaway key, never a file under var/."""
    settings.KEEPSAKE_AUDIT_SIGNING_KEY = audit_signing_pem
    settings.KEEPSAKE_AUDIT_TSA_URL = ""
    return audit_signing_pem


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

    The database refuses DELETE and TRUNCATE on audit events, assets, legal holds and their
    scope, catalogue entries, quarantine records and disposition items (every table of
    archive.append_only.append_only_tables()), and Django's TransactionTestCase (which
    pytest-django's transactional tests use too) flushes every table afterwards; the
    triggers are lifted for that flush only.
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


class Clock:
    """A controllable `django.utils.timezone.now`: set it to an instant, advance it.

    It replaces the `datetime` that `django.utils.timezone` calls, so every caller of
    `timezone.now` / `localdate` / `localtime` sees the same time, including model field
    defaults (`default=timezone.now` keeps a reference to the original function, which a
    plain monkeypatch of `timezone.now` would not reach). The clock ticks with real time
    from the instant it was set (so successive events stay ordered), unless frozen.
    """

    def __init__(self):
        self._anchor: dt.datetime | None = None  # aware, UTC
        self._since = 0.0
        self._tick = True

    def set(self, when: dt.datetime | str, *, tick: bool = True) -> dt.datetime:
        """Put the clock at when (aware, or naive/ISO text meaning the current time zone)."""
        from django.utils import timezone

        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        self._anchor, self._since, self._tick = when.astimezone(dt.UTC), time.monotonic(), tick
        return self.now()

    def advance(self, delta: dt.timedelta | None = None, **units) -> dt.datetime:
        """Move the clock forward by delta (or by timedelta(**units))."""
        delta = delta if delta is not None else dt.timedelta(**units)
        self.set(self.now() + delta, tick=self._tick)
        return self.now()

    def now(self) -> dt.datetime:
        if self._anchor is None:
            return _real_datetime.now(tz=dt.UTC)
        elapsed = time.monotonic() - self._since if self._tick else 0.0
        return self._anchor + dt.timedelta(seconds=elapsed)


_real_datetime = dt.datetime


class _ClockDatetimeMeta(type):
    # Real datetimes stay instances of the stand-in (timezone.template_localtime checks).
    def __instancecheck__(cls, obj):
        return isinstance(obj, _real_datetime)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _real_datetime)


def _clock_datetime(clock: Clock):
    class ClockDatetime(_real_datetime, metaclass=_ClockDatetimeMeta):
        @classmethod
        def now(cls, tz=None):
            current = clock.now()
            return (
                current.astimezone(tz)
                if tz is not None
                else current.astimezone().replace(tzinfo=None)
            )

    return ClockDatetime


@pytest.fixture
def clock(monkeypatch):
    """The time `django.utils.timezone.now` reports, under the test's control."""
    from django.utils import timezone

    controlled = Clock()
    controlled.set(_real_datetime.now(tz=dt.UTC))
    monkeypatch.setattr(timezone, "datetime", _clock_datetime(controlled))
    return controlled
