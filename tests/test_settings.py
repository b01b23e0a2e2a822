"""Safe defaults: DEBUG off unless asked for, no published key, weak keys refused.

The zero-setup default still needs no environment: with no DJANGO_SECRET_KEY a random key
is generated on first start and kept under var/ (mode 600), so every later manage.py
command signs with the same key.
"""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG); print(settings.SECRET_KEY)"
)


def run(args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, *args],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def run_settings(**env):
    return run(["-c", PROBE], **env)


def strong_key() -> str:
    return secrets.token_urlsafe(48)


def test_debug_is_off_unless_asked_for(tmp_path):
    result = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "False"


@pytest.mark.parametrize("value", ["1", "true", "on"])
def test_debug_is_on_when_asked_for(tmp_path, value):
    result = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path), DJANGO_DEBUG=value)

    assert result.stdout.split()[0] == "True", result.stderr


def test_the_demo_asks_for_debug_explicitly():
    script = (ROOT / "scripts" / "demo.sh").read_text()

    assert "export DJANGO_DEBUG=1" in script


@pytest.mark.parametrize("debug", ["0", "1"])
def test_without_a_key_one_is_generated_once_and_kept_private(tmp_path, debug):
    first = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path), DJANGO_DEBUG=debug)
    second = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path), DJANGO_DEBUG=debug)

    assert first.returncode == 0, first.stderr
    key = first.stdout.split()[1]
    assert key == second.stdout.split()[1]
    assert len(key) >= 50 and len(set(key)) >= 5 and not key.startswith("django-insecure")
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Another var/ gets another key: nothing in the code is a key.
    other = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path / "other"), DJANGO_DEBUG=debug)
    assert other.stdout.split()[1] != key
    assert key not in "".join(p.read_text() for p in (ROOT / "config").glob("*.py"))


def test_a_key_file_others_can_read_is_refused(tmp_path):
    run_settings(KEEPSAKE_VAR_DIR=str(tmp_path))
    (tmp_path / "secret_key").chmod(0o644)

    result = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "chmod 600" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "short-key",
        "x" * 49,
        "s" * 64,  # long, but five distinct characters at least (Django's own rule)
        "django-insecure-keepsake-development-key-change-me-0123456789",
        "change-me-to-a-long-random-string",
    ],
)
@pytest.mark.parametrize("debug", ["0", "1"])
def test_a_weak_configured_key_is_refused_at_start(tmp_path, key, debug):
    result = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path), DJANGO_DEBUG=debug, DJANGO_SECRET_KEY=key)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_a_strong_configured_key_is_used(tmp_path):
    key = strong_key()

    result = run_settings(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=key,
        DJANGO_ALLOWED_HOSTS="archive.example.org",
        KEEPSAKE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", key]


def test_manage_py_works_with_no_environment_after_the_demo(tmp_path):
    """`make demo` runs with DJANGO_DEBUG=1; later commands run with nothing set."""
    demo = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path), DJANGO_DEBUG="1")
    later = run(["manage.py", "check"], KEEPSAKE_VAR_DIR=str(tmp_path))

    assert later.returncode == 0, later.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert demo.stdout.split()[1] == key


@pytest.mark.parametrize(
    "env",
    [
        {},  # the zero-setup default
        {"DJANGO_ALLOWED_HOSTS": "archive.example.org", "DJANGO_SECRET_KEY": strong_key()},
    ],
)
def test_check_deploy_is_clean(tmp_path, env):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        KEEPSAKE_VAR_DIR=str(tmp_path),
        **env,
    )

    assert result.returncode == 0, result.stdout + result.stderr
