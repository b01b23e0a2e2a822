"""Keepsake settings, read from the environment.

Every optional value has a default that makes the zero-setup demo work (SQLite under
var/, local folders for the storage tiers, a secret key generated on first start and
kept in var/secret_key). DEBUG is off unless DJANGO_DEBUG asks for it; a configured
secret key shorter than 50 characters (or an example one) stops the process at start.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("KEEPSAKE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Off unless asked for: the demo asks (scripts/demo.sh sets DJANGO_DEBUG=1).
DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY_MIN_LENGTH = 50


def secret_key_check(key: str, source: str) -> str:
    """Refuse a key Django's deploy check would call weak, or one shipped as an example."""
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < 5
        or key.startswith("django-insecure")
        or "change-me" in key
    ):
        raise ImproperlyConfigured(
            f"{source} is too weak: use at least {SECRET_KEY_MIN_LENGTH} random characters, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'."
        )
    return key


def secret_key_kept(path: Path) -> str:
    """The key kept at path (mode 600), generated there on first start.

    A key in the code would be a published key; a key generated per installation lets
    the zero-setup default run anywhere, and every later manage.py command (and the
    django-q2 workers, which sign tasks with it) reads the same one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fp:
            fp.write(secrets.token_urlsafe(64) + "\n")
        try:
            # link() never replaces: of processes starting together, the first key wins.
            os.link(fresh, path)
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ImproperlyConfigured(f"{path} is readable by others; chmod 600 {path}")
    return secret_key_check(path.read_text().strip(), str(path))


if os.environ.get("DJANGO_SECRET_KEY"):
    SECRET_KEY = secret_key_check(os.environ["DJANGO_SECRET_KEY"], "DJANGO_SECRET_KEY")
else:
    SECRET_KEY = secret_key_kept(VAR_DIR / "secret_key")

# Unset, only this machine's own names: a deployment names its hosts.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "archive",
    "dedup",
    "retention",
    # Last: replaces django-q2's admin once every admin module is loaded.
    "config.apps.KeepsakeConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees a view's exception first: a plain 500 even with DEBUG on.
    "config.errors.PlainServerErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite is the zero-setup default; PostgreSQL (psycopg 3) is what CI and production run.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'keepsake.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The near-duplicate lookup is the only prepared statement; a plan made for its actual
    # probe arrays beats a generic one (measured in bench/bench_lookup.py).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c plan_cache_mode=force_custom_plan"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Several processes (web, django-q2 workers, ingest) share the file: wait for locks
    # instead of failing at once, and take the write lock at BEGIN to avoid upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("KEEPSAKE_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files and storage tiers ----------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("KEEPSAKE_STATIC_ROOT", VAR_DIR / "staticfiles"))
MEDIA_ROOT = Path(os.environ.get("KEEPSAKE_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

STORAGE_TIERS = ("hot", "cold", "quarantine")
STORAGE_BACKEND = os.environ.get("KEEPSAKE_STORAGE_BACKEND", "local")


def tier_storage(tier: str) -> dict:
    """Return the STORAGES entry for one tier: a local folder, or an S3-compatible bucket."""
    if STORAGE_BACKEND == "local":
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT / tier, "base_url": None},
        }
    if STORAGE_BACKEND == "s3":
        prefix = f"KEEPSAKE_S3_{tier.upper()}_"
        options = {
            "bucket_name": os.environ.get(prefix + "BUCKET", os.environ.get("KEEPSAKE_S3_BUCKET")),
            "location": os.environ.get(prefix + "PREFIX", tier),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL"),
            "region_name": os.environ.get("AWS_S3_REGION_NAME"),
            "file_overwrite": False,
            "querystring_auth": True,
        }
        storage_class = os.environ.get(prefix + "STORAGE_CLASS")
        if storage_class:
            options["object_parameters"] = {"StorageClass": storage_class}
        if not options["bucket_name"]:
            raise ImproperlyConfigured(f"Set {prefix}BUCKET or KEEPSAKE_S3_BUCKET for S3 storage.")
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    raise ImproperlyConfigured("KEEPSAKE_STORAGE_BACKEND must be 'local' or 's3'.")


STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "derived"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    **{tier: tier_storage(tier) for tier in STORAGE_TIERS},
}

# Pillow refuses images above this many pixels (decompression bombs); None keeps Pillow's.
KEEPSAKE_MAX_IMAGE_PIXELS = int(os.environ.get("KEEPSAKE_MAX_IMAGE_PIXELS", "178956970"))
# Memory one frame may take when decoded whole; larger JPEGs are decoded at reduced scale,
# large 8-bit PNGs are checked in bands, other formats above it are refused with a reason.
KEEPSAKE_DECODE_BUDGET_BYTES = int(os.environ.get("KEEPSAKE_DECODE_BUDGET_MB", "100")) << 20

# Days a quarantined asset can be restored before it may be purged (with approval).
KEEPSAKE_RESTORE_WINDOW_DAYS = int(os.environ.get("KEEPSAKE_RESTORE_WINDOW_DAYS", "30"))

# How the suggested canonical copy of a duplicate group is chosen: a copy in a reference
# collection, then one holding published bytes, then the first of these rules that
# separates the copies decides (pixels, quality, size, lossless, original, metadata,
# earliest).
# Up to this many open pairs the review queue computes its reclaimable figure per page;
# above, a worker does (dedup.tasks.reclaimable_refresh_task) and pages show its time.
KEEPSAKE_RECLAIMABLE_LIVE_PAIRS = int(os.environ.get("KEEPSAKE_RECLAIMABLE_LIVE_PAIRS", "20000"))
KEEPSAKE_CANONICAL_RULES = env_list(
    "KEEPSAKE_CANONICAL_RULES", "pixels,quality,size,lossless,original,metadata,earliest"
)

# Hamming distance (of 64 pHash bits) within which two images are flagged as candidates.
KEEPSAKE_NEAR_DISTANCE = int(os.environ.get("KEEPSAKE_NEAR_DISTANCE", "10"))
# The rolling scan looks further (heavy crops land at 11-16) but keeps such a pair only
# when the judgement finds the same picture (exact, pixel or derivative).
KEEPSAKE_VERIFY_DISTANCE = int(os.environ.get("KEEPSAKE_VERIFY_DISTANCE", "16"))
# From this many fingerprints a process answers
# main-hash lookups from an in-memory index (dedup.lookup_memory; ~55 bytes a fingerprint,
# loaded in ~10 s at 10 M); 0 keeps every lookup in the database.
KEEPSAKE_LOOKUP_MEMORY_FROM = int(os.environ.get("KEEPSAKE_LOOKUP_MEMORY_FROM", "1000000"))
# A fingerprint change must commit within this many seconds of its computed_at (and the
# machines' clocks agree within it) for every in-memory index to see it.
KEEPSAKE_LOOKUP_MEMORY_SLACK_SECONDS = int(
    os.environ.get("KEEPSAKE_LOOKUP_MEMORY_SLACK_SECONDS", "60")
)

# PostgreSQL-only covering indexes (INCLUDE) are plain indexes elsewhere; that is intended.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Background work (django-q2) ------------------------------------------------------
# timeout < retry, so a task is never redelivered while it still runs; finite attempts,
# so a poison task does not loop forever; no catch-up replay of missed schedules.
Q_CLUSTER = {
    "name": os.environ.get("KEEPSAKE_Q_NAME", "keepsake"),
    "orm": "default",
    "workers": int(os.environ.get("KEEPSAKE_Q_WORKERS", "2")),
    "timeout": 600,
    "retry": 720,
    "max_attempts": 3,
    "catch_up": False,
    # Keep every result: django-q2 enforces a positive limit in its one monitor process by
    # locking and reading every kept result on each finished task, which serialises the
    # whole cluster. config.task_results prunes old results daily instead.
    "save_limit": int(os.environ.get("KEEPSAKE_Q_SAVE_LIMIT", "0")),
    "sync": env_bool("KEEPSAKE_Q_SYNC", False),
}
# The only task paths a Schedule may name (config.admin_tasks refuses any other, so no
# role and no shell can point the cluster at an arbitrary callable). Reviewed in code,
# never read from the environment.
KEEPSAKE_SCHEDULABLE_TASKS = frozenset(
    {
        "dedup.tasks.scan_incremental_task",
        "retention.tasks.retention_enforce_task",
        "retention.tasks.fixity_batch_task",
        "retention.tasks.quarantine_reminders_task",
        "retention.tasks.moves_resume_task",
        "archive.checkpoints.checkpoint_seal_task",
        "config.task_results.task_results_prune_task",
        "retention.tasks.campaign_snapshots_task",
        "retention.tasks.certificates_missing_task",
    }
)
# Periodic jobs, created (and updated) by `manage.py setup_schedules`; every task is
# idempotent, so an overlap or a redelivery does no harm.
KEEPSAKE_SCHEDULES = [
    {
        "name": "rolling duplicate scan",
        "func": "dedup.tasks.scan_incremental_task",
        "minutes": int(os.environ.get("KEEPSAKE_SCAN_EVERY_MINUTES", "15")),
    },
    {
        "name": "retention enforcement",
        "func": "retention.tasks.retention_enforce_task",
        "minutes": int(os.environ.get("KEEPSAKE_RETENTION_EVERY_MINUTES", "60")),
    },
    {
        "name": "fixity batch",
        "func": "retention.tasks.fixity_batch_task",
        "minutes": int(os.environ.get("KEEPSAKE_FIXITY_EVERY_MINUTES", "30")),
    },
    {
        "name": "quarantine deadline reminders",
        "func": "retention.tasks.quarantine_reminders_task",
        "minutes": 24 * 60,
    },
    {
        "name": "resume interrupted storage moves",
        "func": "retention.tasks.moves_resume_task",
        "minutes": 15,
    },
    {
        "name": "seal the audit log",
        "func": "archive.checkpoints.checkpoint_seal_task",
        "minutes": int(os.environ.get("KEEPSAKE_AUDIT_SEAL_EVERY_MINUTES", "60")),
    },
    # Idempotent per day (the first snapshot of a day stays), so hourly runs are harmless
    # and a day missed while the cluster was down is caught by the next run that day.
    {
        "name": "campaign snapshots",
        "func": "retention.tasks.campaign_snapshots_task",
        "minutes": 60,
    },
    {
        "name": "certificates of destruction left out",
        "func": "retention.tasks.certificates_missing_task",
        "minutes": 24 * 60,
    },
    {
        "name": "remove old task results",
        "func": "config.task_results.task_results_prune_task",
        "minutes": 24 * 60,
    },
]
# How long finished tasks' results stay (config.task_results, daily).
KEEPSAKE_Q_KEEP_SUCCESS_DAYS = int(os.environ.get("KEEPSAKE_Q_KEEP_SUCCESS_DAYS", "14"))
KEEPSAKE_Q_KEEP_FAILURE_DAYS = int(os.environ.get("KEEPSAKE_Q_KEEP_FAILURE_DAYS", "90"))

# --- Audit checkpoints (archive/checkpoints.py) -----------------------------------------
# The Ed25519 key that signs checkpoints: PEM text, or a file (made, mode 600, on first
# seal when absent). Never in the database. The log's name is the key's name too.
KEEPSAKE_AUDIT_SIGNING_KEY = os.environ.get("KEEPSAKE_AUDIT_SIGNING_KEY", "")
KEEPSAKE_AUDIT_SIGNING_KEY_FILE = os.environ.get(
    "KEEPSAKE_AUDIT_SIGNING_KEY_FILE", str(VAR_DIR / "audit-signing-key.pem")
)
KEEPSAKE_AUDIT_LOG_ORIGIN = os.environ.get("KEEPSAKE_AUDIT_LOG_ORIGIN", "keepsake.local/audit")
# Key rotation: the old key (and its name, if it differed) co-signs the first checkpoint of
# the new key.
KEEPSAKE_AUDIT_PREVIOUS_SIGNING_KEY_FILE = os.environ.get(
    "KEEPSAKE_AUDIT_PREVIOUS_SIGNING_KEY_FILE", ""
)
KEEPSAKE_AUDIT_PREVIOUS_KEY_NAME = os.environ.get(
    "KEEPSAKE_AUDIT_PREVIOUS_KEY_NAME", KEEPSAKE_AUDIT_LOG_ORIGIN
)
# An RFC 3161 time-stamping authority (optional) and its certificate (PEM) to check tokens.
KEEPSAKE_AUDIT_TSA_URL = os.environ.get("KEEPSAKE_AUDIT_TSA_URL", "")
KEEPSAKE_AUDIT_TSA_CERT_FILE = os.environ.get("KEEPSAKE_AUDIT_TSA_CERT_FILE", "")
KEEPSAKE_AUDIT_TSA_TIMEOUT = float(os.environ.get("KEEPSAKE_AUDIT_TSA_TIMEOUT", "10"))

# --- Retention ------------------------------------------------------------------------
# Assets one enforcement run plans at most per rule, and one fixity batch re-reads.
KEEPSAKE_RETENTION_BATCH = int(os.environ.get("KEEPSAKE_RETENTION_BATCH", "500"))
KEEPSAKE_FIXITY_BATCH_SIZE = int(os.environ.get("KEEPSAKE_FIXITY_BATCH_SIZE", "200"))
# Restore deadlines closing within this many days are announced (audited) once.
KEEPSAKE_QUARANTINE_REMIND_DAYS = int(os.environ.get("KEEPSAKE_QUARANTINE_REMIND_DAYS", "7"))
# Prices per GB-month for the storage dashboard's cost estimate.
KEEPSAKE_STORAGE_PRICES = {
    tier: float(os.environ.get(f"KEEPSAKE_PRICE_{tier.upper()}_GB_MONTH", default))
    for tier, default in (("hot", "0.023"), ("cold", "0.0125"), ("quarantine", "0.023"))
}
KEEPSAKE_PRICE_CURRENCY = os.environ.get("KEEPSAKE_PRICE_CURRENCY", "USD")

# Clean-dataset releases (dedup.releases): where the admin and the API write them (the
# command takes any folder), and the publisher named in every RO-Crate.
KEEPSAKE_RELEASES_ROOT = Path(os.environ.get("KEEPSAKE_RELEASES_ROOT", VAR_DIR / "releases"))
KEEPSAKE_RELEASE_PUBLISHER = os.environ.get("KEEPSAKE_RELEASE_PUBLISHER", "Keepsake archive")
KEEPSAKE_RELEASE_PUBLISHER_URL = os.environ.get("KEEPSAKE_RELEASE_PUBLISHER_URL", "")

if os.environ.get("KEEPSAKE_REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["KEEPSAKE_REDIS_URL"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Keepsake API",
    "DESCRIPTION": "Image archive records, duplicate detection and safe removal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the installed sidecar package: the docs page works without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema_without_database_ranges",
    ],
}
KEEPSAKE_MAX_UPLOAD_BYTES = int(os.environ.get("KEEPSAKE_MAX_UPLOAD_BYTES", str(200 * 2**20)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "keepsake": {
            "handlers": ["console"],
            "level": os.environ.get("KEEPSAKE_LOG_LEVEL", "INFO"),
        },
    },
}
