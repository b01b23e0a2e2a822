"""scan_duplicates: the report is read-only; --record queues pairs; --path audits a folder."""

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from archive.services import collection_get_or_create
from dedup.models import DuplicateCandidate, ScanRun
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive_with_duplicates(collection):
    """An original, its halved copy in another collection, an exact re-upload, a stranger."""
    permits = collection_get_or_create(name="Permits")
    scene = make_scene(11)
    data = image_bytes(scene, quality=92)
    original = ingest_bytes(data, collection=collection, path="survey/a.jpg").asset
    ingest_bytes(data, collection=permits, path="permits/a-copy.jpg")
    half = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=70),
        collection=permits,
        path="permits/a-half.jpg",
    ).asset
    ingest_bytes(image_bytes(make_scene(12)), collection=collection, path="survey/b.jpg")
    return original, half


def scan(*args, **options) -> str:
    out = io.StringIO()
    call_command("scan_duplicates", *args, stdout=out, **options)
    return out.getvalue()


def database_snapshot() -> dict:
    return {
        model._meta.label: sorted(map(repr, model.objects.order_by("pk").values()))
        for model in apps.get_models()
    }


def files_snapshot(root: Path) -> dict:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_report_changes_nothing(archive_with_duplicates, isolated_storage, tmp_path):
    rows, files = database_snapshot(), files_snapshot(isolated_storage)

    for fmt in ("json", "csv", "html"):
        scan(format=fmt, output=str(tmp_path / f"report.{fmt}"))

    assert database_snapshot() == rows
    assert files_snapshot(isolated_storage) == files


def test_json_report_shape(archive_with_duplicates):
    original, half = archive_with_duplicates

    report = json.loads(scan())

    summary = report["summary"]
    assert summary["assets"] == 3 and summary["sources"] == 4
    assert summary["pairs"] == 1 and summary["pairs_by_kind"] == {"derivative": 1}
    assert summary["exact_groups"] == 1 and summary["exact_copies_avoided"] == 1
    assert summary["duplicate_rate"] == 0.5  # 2 redundant deliveries of 4
    assert summary["reclaimable_bytes"] == half.size
    assert summary["by_collection"]["Permits"]["reclaimable_bytes"] == half.size
    (pair,) = report["pairs"]
    assert pair["a"] == {
        "id": original.pk,
        "path": "survey/a.jpg",
        "sha256": original.sha256,
        "collection": "Field photos",
    }
    assert pair["b"]["id"] == half.pk
    assert pair["kind"] == "derivative"
    assert set(pair["distances"]) == {"phash", "dhash"}
    assert pair["status"] == "pending"  # the ingest already queued it
    (group,) = report["exact_groups"]
    assert [s["path"] for s in group["sources"]] == ["survey/a.jpg", "permits/a-copy.jpg"]
    assert group["bytes_avoided"] == original.size


def test_collection_and_since_filters(archive_with_duplicates):
    assert json.loads(scan(collection="Nobody's"))["summary"]["pairs"] == 0
    assert json.loads(scan(collection="Permits"))["summary"]["pairs"] == 1
    assert json.loads(scan(since="2999-01-01"))["summary"]["pairs"] == 0
    assert json.loads(scan(since="2000-01-01"))["summary"]["pairs"] == 1
    with pytest.raises(CommandError, match="is not a date"):
        scan(since="yesterday")


def test_csv_and_html_formats(archive_with_duplicates):
    rows = list(csv.DictReader(io.StringIO(scan(format="csv"))))
    html = scan(format="html")

    assert len(rows) == 1 and rows[0]["a_path"] == "survey/a.jpg"
    assert "<svg" in html and "Field photos" in html
    assert html.count("data:image/jpeg;base64,") == 2  # both sides of the one group


def test_record_queues_new_pairs_once_and_keeps_decisions(archive_with_duplicates):
    DuplicateCandidate.objects.all().delete()

    scan(record=True)
    candidate = DuplicateCandidate.objects.get()
    candidate.status = DuplicateCandidate.Status.REJECTED
    candidate.save()
    scan(record=True)

    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.REJECTED
    assert [r.summary["recorded_new_pairs"] for r in ScanRun.objects.order_by("pk")] == [1, 0]


def test_folder_audit_writes_nothing(tmp_path, db):
    scene = make_scene(21)
    tree = tmp_path / "legacy"
    (tree / "copy").mkdir(parents=True)
    (tree / "a.jpg").write_bytes(image_bytes(scene, quality=90))
    (tree / "copy" / "a.jpg").write_bytes((tree / "a.jpg").read_bytes())
    (tree / "a-small.jpg").write_bytes(image_bytes(scene.resize((160, 120)), quality=60))
    (tree / "readme.jpg").write_text("not an image")
    rows = database_snapshot()

    report = json.loads(scan(path=str(tree), workers=1))

    assert database_snapshot() == rows
    summary = report["summary"]
    assert (summary["sources"], summary["assets"], summary["pairs"]) == (3, 2, 1)
    assert summary["errors"][0]["path"].endswith("readme.jpg")
    (group,) = report["exact_groups"]
    assert len(group["sources"]) == 2 and group["asset"] is None


def test_folder_audit_refuses_record(tmp_path):
    with pytest.raises(CommandError, match="cannot be combined"):
        scan(path=str(tmp_path), record=True)
