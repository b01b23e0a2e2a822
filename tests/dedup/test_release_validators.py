"""Real releases pass the peers' own validators: ocfl-py, bagit-python and roc-validator.

The validators run in their own virtualenv (requirements-validators.txt, made by
`make install` next to the project's), offline: see tests/dedup/release_validators.py.
"""

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archive.actors import SYSTEM
from dedup.releases.services import dataset_release
from tests.dedup.release_fixtures import RELEASED_AT, archive_build, consolidate, retitle

pytestmark = pytest.mark.django_db
SCRIPT = Path(__file__).with_name("release_validators.py")


def validators_python() -> Path:
    python = Path(sys.prefix) / "validators" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"The release validators are not installed ({python}): run `make install`.")
    return python


def validate(kind: str, *args) -> str:
    run = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(validators_python()), str(SCRIPT), kind, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{kind} {args}: {run.stdout}\n{run.stderr}"
    return run.stdout


@pytest.fixture
def publisher(settings):
    settings.KEEPSAKE_RELEASE_PUBLISHER = "City Archives"
    settings.KEEPSAKE_RELEASE_PUBLISHER_URL = "https://archives.example.org/"


@pytest.mark.parametrize("release_format", ["ocfl", "bagit"])
def test_v1_and_v2_after_a_consolidation_pass_the_validators(tmp_path, publisher, release_format):
    archive = archive_build()
    out = tmp_path / release_format

    def publish(when):
        return dataset_release(
            collections=archive.collections,
            output=out,
            actor=archive.curator,
            release_format=release_format,
            released_at=when,
        )

    publish(RELEASED_AT)
    consolidate(archive)
    retitle(archive.open_photo, "Bridge at dusk", archive.curator)
    second = publish(RELEASED_AT + dt.timedelta(days=7))
    assert second.notice["removed_as_duplicates"]

    if release_format == "ocfl":
        report = validate("ocfl", out)
        # Keepsake's digests are SHA-256, which OCFL allows and merely calls second best.
        assert set(re.findall(r"\[([EW]\d+)\]", report)) <= {"W004"}, report
        for version in ("v1", "v2"):
            assert validate("ocfl-crate", out, version).strip() == ""
    else:
        for version in ("v1", "v2"):
            assert "valid bag" in validate("bagit", out / version)
            assert validate("crate", out / version / "data").strip() == ""


def test_the_validators_catch_a_damaged_release(tmp_path, publisher):
    """The check can fail: one flipped byte in a stored file makes each package invalid."""
    archive = archive_build()
    dataset_release(
        collections=archive.collections,
        output=tmp_path / "o",
        actor=SYSTEM,
        released_at=RELEASED_AT,
    )
    dataset_release(
        collections=archive.collections,
        output=tmp_path / "b",
        actor=SYSTEM,
        dataset="bagged",
        release_format="bagit",
        released_at=RELEASED_AT,
    )
    for stored in [
        *(tmp_path / "o").glob("v1/content/files/*"),
        *(tmp_path / "b").glob("v1/data/files/*"),
    ]:
        data = bytearray(stored.read_bytes())
        data[len(data) // 2] ^= 0xFF
        stored.write_bytes(bytes(data))
    python = str(validators_python())
    for kind, target in (("ocfl", tmp_path / "o"), ("bagit", tmp_path / "b" / "v1")):
        run = subprocess.run(  # noqa: S603
            [python, str(SCRIPT), kind, str(target)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 1, run.stdout
    (tmp_path / "b" / "v1" / "data" / "ro-crate-metadata.json").write_text(
        '{"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": []}'
    )
    run = subprocess.run(  # noqa: S603
        [python, str(SCRIPT), "crate", str(tmp_path / "b" / "v1" / "data")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1 and "REQUIRED" in run.stdout, run.stdout
