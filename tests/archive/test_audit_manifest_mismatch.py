"""verify_audit tells a manifest of another export from a file changed after export."""

import io
import shutil

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from archive.audit import audit_record

pytestmark = pytest.mark.django_db


def record(verb, n=1):
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, verb=verb, object_type="thing", object_id=i)


def export(path, *args):
    call_command("export_audit", "--output", str(path), *args, stdout=io.StringIO())


def verify(path, manifest):
    call_command(
        "verify_audit", "--file", str(path), "--manifest", str(manifest), stdout=io.StringIO()
    )


@pytest.fixture
def exports(tmp_path):
    record("asset.ingested", 3)
    record("legalhold.placed", 2)
    export(tmp_path / "assets.csv", "--verb", "asset.*")
    export(tmp_path / "holds.csv", "--verb", "legalhold.*")
    return tmp_path


def test_the_manifest_of_another_export_is_named_as_such(exports):
    with pytest.raises(CommandError, match="the manifest belongs to another export"):
        verify(exports / "assets.csv", exports / "holds.csv.manifest.json")


def test_a_renamed_copy_with_another_exports_manifest_is_still_caught(exports):
    """Same file name, other rows: the file is whole, the manifest describes other rows."""
    (exports / "other").mkdir()
    shutil.copy(exports / "holds.csv", exports / "other" / "assets.csv")

    with pytest.raises(CommandError, match=r"belongs to another export \(assets.csv: 3 rows"):
        verify(exports / "other" / "assets.csv", exports / "assets.csv.manifest.json")


def test_a_file_changed_after_export_is_not_called_another_export(exports):
    path = exports / "assets.csv"
    path.write_text(path.read_text().replace("asset.ingested", "asset.ingestex", 1))

    with pytest.raises(CommandError, match=r"SHA-256 differs from the manifest's \(file changed\)"):
        verify(path, exports / "assets.csv.manifest.json")
