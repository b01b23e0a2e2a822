"""Settings for the test suite: the real settings, with background work run inline."""

import tempfile
from pathlib import Path

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER, STORAGE_TIERS, STORAGES

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
# Production defaults otherwise; the test client and the live server speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="keepsake-test-media-"))
STORAGES = {
    **STORAGES,
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "derived"},
    },
    **{
        tier: {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT / tier},
        }
        for tier in STORAGE_TIERS
    },
}
