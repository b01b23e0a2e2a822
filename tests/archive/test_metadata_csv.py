"""The metadata CSV of `ingest`: a bad field costs that field, never the image.

Rows that match no file are reported and recorded, `*.csv` sidecars in the tree are not
taken for images, a second run records nothing new, and the row naming a file by its
relative path wins over a row naming only its file name.
"""

import csv
import os
from io import StringIO

import pytest
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.metadata import MetadataTable, metadata_table_read
from archive.models import AssetSource, CatalogueEntry, IngestRejection
from archive.services import collection_get_or_create
from tests.archive.helpers import ingest_picture
from tests.conftest import image_bytes, make_scene

COLUMNS = ["path", "title", "accession_number", "date_start", "date_end", "published"]


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in COLUMNS})
    return path


def _tree(tmp_path, names):
    root = tmp_path / "tree"
    for seed, name in enumerate(names, start=40):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(image_bytes(make_scene(seed)))
    return root


def _ingest(root, metadata, *extra):
    out = StringIO()
    call_command(
        "ingest",
        str(root),
        "--collection",
        "Survey",
        "--metadata",
        str(metadata),
        "--no-progress",
        "--workers",
        "1",
        *extra,
        stdout=out,
    )
    return out.getvalue()


def _entry(root, name) -> CatalogueEntry:
    return CatalogueEntry.objects.get(source__path=str(root / name))


def _rejections(path) -> list[str]:
    return list(IngestRejection.objects.filter(path=str(path)).values_list("reason", flat=True))


@pytest.mark.django_db
def test_a_bad_value_rejects_that_field_and_the_image_is_stored(tmp_path):
    root = _tree(tmp_path, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    rows = [
        {"path": "a.jpg", "title": "Harbour", "date_start": "soon", "accession_number": "A-1"},
        {"path": "b.jpg", "title": "Quay", "published": "perhaps"},
        {"path": "c.jpg", "title": "x" * 600, "accession_number": "C-1"},
        {"path": "d.jpg", "title": "Pier", "date_start": "1990-05-01", "date_end": "1980-01-01"},
    ]
    metadata = _write_csv(tmp_path / "rows.csv", rows)

    summary = _ingest(root, metadata)

    assert AssetSource.objects.count() == 4
    a, b, c, d = (_entry(root, name) for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"))
    assert (a.title, a.accession_number, a.date_start) == ("Harbour", "A-1", None)
    assert (b.title, b.published) == ("Quay", False)
    assert (c.title, c.accession_number) == ("c.jpg", "C-1")
    assert (d.date_start.year, d.date_end) == (1990, None)
    for name, field in (("a.jpg", "date_start"), ("b.jpg", "published"), ("c.jpg", "title")):
        reasons = _rejections(root / name)
        assert len(reasons) == 1 and field in reasons[0] and "stored" in reasons[0], name
        assert field in summary
    assert "date_end" in _rejections(root / "d.jpg")[0]
    assert "new: 4" in summary and "errors: 0" in summary


@pytest.mark.django_db
def test_an_accession_number_already_taken_is_rejected_alone(tmp_path):
    collection = collection_get_or_create(name="Survey")
    taken = ingest_picture(collection=collection, colour="navy").entry
    CatalogueEntry.objects.filter(pk=taken.pk).update(accession_number="K-9")
    root = _tree(tmp_path, ["k.jpg"])
    metadata = _write_csv(tmp_path / "rows.csv", [{"path": "k.jpg", "accession_number": "K-9"}])

    _ingest(root, metadata)

    assert _entry(root, "k.jpg").accession_number == ""
    assert "accession_number" in _rejections(root / "k.jpg")[0]


@pytest.mark.django_db
def test_rows_matching_no_file_are_reported_and_recorded(tmp_path):
    root = _tree(tmp_path, ["a.jpg"])
    rows = [{"path": "a.jpg", "title": "Found"}, {"path": "lost/z.jpg", "title": "Lost"}]
    metadata = _write_csv(tmp_path / "rows.csv", rows)

    summary = _ingest(root, metadata)

    assert "lost/z.jpg" in summary and "no file" in summary
    reasons = _rejections("lost/z.jpg")
    assert len(reasons) == 1 and "row 3" in reasons[0]
    assert _entry(root, "a.jpg").title == "Found"


@pytest.mark.django_db
def test_csv_sidecars_in_the_tree_are_skipped_not_rejected(tmp_path):
    root = _tree(tmp_path, ["a.jpg", "sub/b.jpg"])
    _write_csv(root / "sub" / "catalogue.csv", [{"path": "b.jpg", "title": "Sidecar"}])
    (root / "NOTES.CSV").write_text("path,title\n")
    metadata = _write_csv(root / "rows.csv", [{"path": "a.jpg", "title": "A"}])

    summary = _ingest(root, metadata)

    assert IngestRejection.objects.count() == 0
    assert AssetSource.objects.count() == 2
    assert "metadata sidecars skipped: 3" in summary
    assert "errors: 0" in summary


@pytest.mark.django_db
def test_a_second_run_records_nothing_twice_and_keeps_every_file(tmp_path):
    root = _tree(tmp_path, ["a.jpg", "b.jpg"])
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    rows = [
        {"path": "a.jpg", "title": "A", "accession_number": "A-1", "date_start": "never"},
        {"path": "b.jpg", "title": "B", "accession_number": "B-1"},
        {"path": "gone.jpg", "title": "Gone"},
    ]
    metadata = _write_csv(tmp_path / "rows.csv", rows)
    _ingest(root, metadata)
    first = sorted(IngestRejection.objects.values_list("path", "reason"))

    summary = _ingest(root, metadata)

    assert sorted(IngestRejection.objects.values_list("path", "reason")) == first
    assert len(first) == 3  # the field of a.jpg, broken.jpg, the row of gone.jpg
    assert "unchanged: 2" in summary and "errors: 1" in summary
    assert CatalogueEntry.objects.count() == 2


@pytest.mark.django_db
def test_the_relative_path_row_beats_the_file_name_row(tmp_path):
    root = _tree(tmp_path, ["a.jpg", "sub/a.jpg", "other/deep/a.jpg"])
    rows = [
        {"path": "a.jpg", "title": "by name"},
        {"path": "sub/a.jpg", "title": "by relative path"},
        {"path": "deep/a.jpg", "title": "by partial path"},
    ]
    metadata = _write_csv(tmp_path / "rows.csv", rows)

    _ingest(root, metadata)

    assert _entry(root, "sub/a.jpg").title == "by relative path"
    assert _entry(root, "other/deep/a.jpg").title == "by partial path"
    assert _entry(root, "a.jpg").title == "by name"


parts = st.lists(st.sampled_from(["a", "b", "c.jpg"]), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(file_parts=parts, keys=st.lists(parts, max_size=6))
def test_lookup_takes_the_longest_matching_path(tmp_path_factory, file_parts, keys):
    """Whatever rows exist, a file gets the row with the longest path that ends its own."""
    path = os.path.join("/root", *file_parts)
    folder = tmp_path_factory.mktemp("csv")
    written = [os.path.join(*key) for key in keys]
    _write_csv(folder / "rows.csv", [{"path": key, "title": key} for key in written])
    table: MetadataTable = metadata_table_read(path=str(folder / "rows.csv"))

    row = table.lookup(path)

    matching = [key for key in written if path.endswith(os.sep + key)]
    if not matching:
        assert row is None
    else:
        assert row.metadata.title == max(matching, key=len)
