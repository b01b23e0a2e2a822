"""Clean-dataset releases: contents, licence filter, notice, OCFL storage, reproducibility."""

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from archive.actors import SYSTEM
from archive.errors import ArchiveError
from archive.ingest import EntryMetadata
from archive.models import AuditEvent
from dedup.models import DatasetRelease
from dedup.releases import files as release_files
from dedup.releases.services import dataset_release, release_finish
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene
from tests.dedup.release_fixtures import (
    RELEASED_AT,
    archive_build,
    consolidate,
    retitle,
    user_with,
)

pytestmark = pytest.mark.django_db
LATER = RELEASED_AT + dt.timedelta(days=7)


class Rollback(Exception):
    pass


@pytest.fixture
def archive():
    return archive_build()


def release(archive, output, **kwargs):
    kwargs.setdefault("released_at", RELEASED_AT)
    return dataset_release(collections=archive.collections, output=output, actor=SYSTEM, **kwargs)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_first_release_publishes_reusable_records_and_says_what_was_left_out(archive, tmp_path):
    first = release(archive, tmp_path / "object")

    assert [item["asset"] for item in first.items] == sorted(
        [archive.big.pk, archive.small.pk, archive.open_photo.pk]
    )
    left = {row["asset"]: row["reason"] for row in first.left_out}
    assert left == {
        archive.closed.pk: "licence Agency does not allow reuse",
        archive.bare.pk: "no licence recorded",
    }
    assert first.notice["previous_version"] is None
    assert [row["asset"] for row in first.notice["added"]] == [i["asset"] for i in first.items]
    big = next(i for i in first.items if i["asset"] == archive.big.pk)
    assert big["metadata"]["records"][0]["title"] == "Facade, Rue A"
    assert big["metadata"]["records"][0]["licences"][0]["licence_type"] == "cc_by"
    # Every published file is the stored bytes, under Keepsake's own SHA-256.
    state = json.loads((tmp_path / "object" / "inventory.json").read_text())["versions"]["v1"]
    stored = tmp_path / "object" / "v1" / "content" / big["path"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == archive.big.sha256
    assert state["state"][archive.big.sha256] == [big["path"]]


def test_release_is_audited_with_the_manifest_digest_before_any_file_is_written(
    archive, tmp_path, monkeypatch
):
    seen = []
    write = release_files.part_write

    def watching(part, target):
        seen.append(AuditEvent.objects.filter(verb="dataset.released").count())
        write(part, target)

    monkeypatch.setattr("dedup.releases.ocfl.part_write", watching)
    first = release(archive, tmp_path / "object")

    event = AuditEvent.objects.get(verb="dataset.released")
    inventory = (tmp_path / "object" / "inventory.json").read_bytes()
    assert event.after["manifest_sha256"] == first.manifest_sha256
    assert first.manifest_sha256 == hashlib.sha256(inventory).hexdigest()
    assert seen and set(seen) == {1}  # the event was in the chain before the first write
    assert DatasetRelease.objects.get().written_at is not None


def test_notice_lists_duplicates_removed_with_their_canonical_added_and_changed(archive, tmp_path):
    release(archive, tmp_path / "object")
    consolidate(archive)
    retitle(archive.open_photo, "Bridge at dusk", archive.curator)
    added = ingest_bytes(
        image_bytes(make_scene(21)),
        collection=archive.collections[0],
        path="p/e.jpg",
        metadata=EntryMetadata(title="New"),
    ).asset
    from archive.models import Licence
    from archive.services import record_save

    record_save(
        obj=Licence(entry=added.entries.get(), holder="City", licence_type="cc0"),
        actor=archive.curator,
    )

    second = release(archive, tmp_path / "object", released_at=LATER)
    notice = second.notice

    big_path = next(i["path"] for i in second.items if i["asset"] == archive.big.pk)
    [removed] = notice["removed_as_duplicates"]
    assert (removed["asset"], removed["canonical"], removed["canonical_path"]) == (
        archive.small.pk,
        archive.big.pk,
        big_path,
    )
    assert removed["records"] == [
        archive.small.entries.model.objects.get(source__path="web/a-small.jpg").pk
    ]
    assert notice["removed"] == []
    assert [row["asset"] for row in notice["added"]] == [added.pk]
    changed = {row["asset"]: row["changed"] for row in notice["changed_metadata"]}
    entry = archive.open_photo.entries.get()
    assert changed[archive.open_photo.pk] == [f"record {entry.pk}: title"]
    # The canonical now carries the replaced file's record and says what it replaces.
    assert "replaces" in changed[archive.big.pk]
    assert any(c.endswith("added") for c in changed[archive.big.pk])
    html = (tmp_path / "object" / "v2" / "content" / "release-notice.html").read_text()
    assert "Removed as duplicates (1)" in html and big_path in html


def test_ocfl_stores_unchanged_files_once_across_versions(archive, tmp_path):
    release(archive, tmp_path / "object")
    consolidate(archive)
    release(archive, tmp_path / "object", released_at=LATER)

    root = tmp_path / "object"
    inventory = json.loads((root / "inventory.json").read_text())
    assert inventory["head"] == "v2" and inventory["digestAlgorithm"] == "sha256"
    # No image is copied again: v2 stores only the files that changed (metadata, crate,
    # notice); the canonical and the untouched photo stay in v1's content.
    v2_content = sorted(str(p.relative_to(root)) for p in (root / "v2").rglob("*") if p.is_file())
    assert not [p for p in v2_content if "/files/" in p]
    assert all(len(paths) == 1 for paths in inventory["manifest"].values())
    for asset in (archive.big, archive.open_photo):
        assert inventory["manifest"][asset.sha256][0].startswith("v1/content/files/")
        assert asset.sha256 in inventory["versions"]["v2"]["state"]
    assert archive.small.sha256 not in inventory["versions"]["v2"]["state"]
    # Every digest is the content's SHA-256.
    for digest, [path] in inventory["manifest"].items():
        assert hashlib.sha256((root / path).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("release_format", ["ocfl", "bagit"])
def test_same_state_and_release_time_give_byte_identical_releases(
    archive, tmp_path, release_format
):
    """A rerun on the same state with the same release time writes the same bytes."""
    here, there = tmp_path / "here", tmp_path / "there"
    release(archive, here, release_format=release_format)
    shutil.copytree(here, there)
    consolidate(archive)
    with pytest.raises(Rollback), transaction.atomic():
        release(archive, here, release_format=release_format, released_at=LATER)
        raise Rollback
    # Another release time is another release: then the manifests differ.
    with pytest.raises(Rollback), transaction.atomic():
        other = release(
            archive,
            tmp_path / "other",
            release_format=release_format,
            released_at=LATER + dt.timedelta(hours=1),
        )
        assert other.version == 2
        raise Rollback
    release(archive, there, release_format=release_format, released_at=LATER)

    assert tree(here) == tree(there)
    assert len(tree(here)) > 10
    manifest = "inventory.json" if release_format == "ocfl" else "v2/manifest-sha256.txt"
    assert tree(tmp_path / "other")[manifest] != tree(there)[manifest]


def test_bagit_release_is_one_bag_per_release(archive, tmp_path):
    release(archive, tmp_path / "bags", release_format="bagit")
    consolidate(archive)
    second = release(archive, tmp_path / "bags", release_format="bagit", released_at=LATER)

    assert sorted(p.name for p in (tmp_path / "bags").iterdir()) == ["v1", "v2"]
    bag = tmp_path / "bags" / "v2"
    manifest = (bag / "manifest-sha256.txt").read_bytes()
    assert hashlib.sha256(manifest).hexdigest() == second.manifest_sha256
    assert (bag / "data" / "ro-crate-metadata.json").exists()
    assert "Bagging-Date: 2027-08-07" in (bag / "bag-info.txt").read_text()


def test_a_dataset_keeps_its_format_and_versions_go_forward(archive, tmp_path):
    release(archive, tmp_path / "object")
    with pytest.raises(ArchiveError, match="is published as OCFL"):
        release(archive, tmp_path / "bags", release_format="bagit", released_at=LATER)
    with pytest.raises(ArchiveError, match="cannot be dated before"):
        release(archive, tmp_path / "object", released_at=RELEASED_AT - dt.timedelta(days=1))


def test_publishing_needs_the_permission(archive, tmp_path):
    nobody = user_with("nobody")
    with pytest.raises(ArchiveError, match="permission"):
        dataset_release(collections=archive.collections, output=tmp_path, actor=nobody)
    assert not DatasetRelease.objects.exists()


def test_damaged_bytes_are_never_published_and_the_release_is_finished_later(
    archive, tmp_path, settings
):
    from archive.storage import bytes_open

    stored = Path(settings.STORAGES["hot"]["OPTIONS"]["location"]) / archive.big.storage_key
    good = stored.read_bytes()
    stored.write_bytes(good[:-10] + b"0123456789")
    with pytest.raises(ArchiveError, match="do not match their SHA-256"):
        release(archive, tmp_path / "object")
    recorded = DatasetRelease.objects.get()
    assert recorded.written_at is None
    assert not (tmp_path / "object" / "inventory.json").exists()
    with pytest.raises(ArchiveError, match="finish it first"):
        release(archive, tmp_path / "object", released_at=LATER)

    stored.write_bytes(good)
    with bytes_open(alias="hot", key=archive.big.storage_key) as fp:
        assert hashlib.sha256(fp.read()).hexdigest() == archive.big.sha256
    release_finish(dataset=recorded.dataset, actor=SYSTEM)
    recorded.refresh_from_db()
    assert recorded.written_at is not None
    inventory = (tmp_path / "object" / "inventory.json").read_bytes()
    assert hashlib.sha256(inventory).hexdigest() == recorded.manifest_sha256


def test_command_publishes_and_reports_what_was_left_out(archive, tmp_path, capsys):
    call_command(
        "release_dataset",
        "--collection",
        "Permits",
        "--collection",
        "Press",
        "--output",
        str(tmp_path / "object"),
        "--released-at",
        RELEASED_AT.isoformat(),
    )
    out = capsys.readouterr().out
    assert "Released Permits + Press v1 (OCFL 1.1 object" in out
    assert "3 files, 3 records" in out
    assert "Left out: 2 records." in out
    assert "'Agency shot' (Press): licence Agency does not allow reuse" in out
    with pytest.raises(CommandError, match="No collection called 'Nowhere'"):
        call_command("release_dataset", "--collection", "Nowhere", "--output", str(tmp_path))
    with pytest.raises(CommandError, match="--output"):
        call_command("release_dataset", "--collection", "Permits")


def test_a_release_with_nothing_left_out_or_nothing_at_all(archive, tmp_path):
    from archive.services import collection_get_or_create

    empty = collection_get_or_create(name="Empty")
    nothing = dataset_release(
        collections=[empty], output=tmp_path / "empty", actor=SYSTEM, released_at=RELEASED_AT
    )
    assert (nothing.items, nothing.left_out) == ([], [])
    assert json.loads((tmp_path / "empty" / "inventory.json").read_text())["head"] == "v1"
    from archive.models import Licence
    from archive.services import record_save

    record_save(
        obj=Licence(entry=archive.bare.entries.get(), holder="City", licence_type="cc0"),
        actor=archive.curator,
    )
    permits = dataset_release(
        collections=[archive.collections[0]],
        output=tmp_path / "p",
        actor=SYSTEM,
        released_at=RELEASED_AT,
    )
    assert permits.left_out == [] and len(permits.items) == 3
