"""Production mode fails fast on missing secrets; the demo needs no environment at all."""

import os
import subprocess
import sys

import pytest

PROBE = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def run_settings(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-c", PROBE],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_demo_defaults_need_no_environment(tmp_path):
    result = run_settings(KEEPSAKE_VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "s" * 50}, "DJANGO_ALLOWED_HOSTS must be set"),
    ],
)
def test_production_refuses_to_start_without_secrets(tmp_path, env, message):
    result = run_settings(DJANGO_DEBUG="0", KEEPSAKE_VAR_DIR=str(tmp_path), **env)

    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_secret_and_hosts(tmp_path):
    result = run_settings(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="s" * 50,
        DJANGO_ALLOWED_HOSTS="archive.example.org",
        KEEPSAKE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
