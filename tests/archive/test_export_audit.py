"""export_audit streams filtered events with a manifest; verify_audit --file checks them."""

import csv
import datetime as dt
import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from archive.audit import audit_record, row_hash
from archive.audit_export import (
    AuditExportFilter,
    audit_export_stream,
    audit_export_verify,
    audit_export_write,
)
from archive.models import AuditEvent

pytestmark = pytest.mark.django_db


def record(verb="test.event", actor=None, object_type="thing", object_id=1, **fields):
    with transaction.atomic():
        return audit_record(
            actor=actor, verb=verb, object_type=object_type, object_id=object_id, **fields
        )


@pytest.fixture
def trail(user, staff):
    """Seven events: two actors, three verbs, two object types, odd payloads."""
    record("asset.ingested", actor=user, object_type="archive.asset", object_id=1)
    record(
        "legalhold.placed",
        actor=staff,
        object_type="archive.legalhold",
        object_id=1,
        reason='quotes " and, commas\nand a newline',
    )
    record(
        "asset.ingested",
        actor=user,
        object_type="archive.asset",
        object_id=2,
        after={"note": "é ✓", "ratio": 0.1, "n": None},
    )
    record("legalhold.refused", actor=user, object_type="archive.asset", object_id=1)
    record("legalhold.released", actor=staff, object_type="archive.legalhold", object_id=1)
    record("asset.ingested", actor=user, object_type="archive.asset", object_id=3)
    record("test.event", before={"a": [1, 2]}, after={"a": []})
    return list(AuditEvent.objects.all())


def export(path, *args):
    out = io.StringIO()
    call_command("export_audit", "--output", str(path), *args, stdout=out)
    return out.getvalue()


def verify(path, *args):
    out = io.StringIO()
    call_command("verify_audit", "--file", str(path), *args, stdout=out)
    return out.getvalue()


def manifest_of(path):
    return json.loads((path.parent / f"{path.name}.manifest.json").read_text())


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fp:
        return list(csv.DictReader(fp))


def forged(row: dict, **changes) -> dict:
    """A CSV row changed and re-sealed with a correct hash of its own."""
    row = {**row, **changes}
    parsed = {
        **row,
        "sequence": int(row["sequence"]),
        "before": json.loads(row["before"]),
        "after": json.loads(row["after"]),
    }
    return {**row, "hash": row_hash(parsed)}


def rewrite_manifest_digest(path):
    """What a forger would do next: make the manifest's digest match the edited file."""
    manifest_path = path.parent / f"{path.name}.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fp:
        writer = csv.DictWriter(fp, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


class TestExportAudit:
    def test_a_full_export_carries_every_field_and_a_manifest(self, tmp_path, trail):
        path = tmp_path / "trail.csv"

        output = export(path, "--chunk-size", "2")

        rows = csv_rows(path)
        assert "exported 7 events (events #1–#7)" in output
        assert [int(r["sequence"]) for r in rows] == [1, 2, 3, 4, 5, 6, 7]
        assert rows[1]["reason"] == 'quotes " and, commas\nand a newline'
        assert json.loads(rows[2]["after"]) == {"note": "é ✓", "ratio": 0.1, "n": None}
        assert rows[0]["before"] == "null"
        assert rows[6]["hash"] == trail[6].hash and rows[6]["previous_hash"] == trail[5].hash
        manifest = manifest_of(path)
        assert manifest["rows"] == 7
        assert manifest["chain_head"] == {"sequence": 7, "hash": trail[6].hash}
        assert manifest["file_format"] == "csv"
        assert (manifest["first_sequence"], manifest["last_sequence"]) == (1, 7)
        assert set(manifest["filters"].values()) == {None}
        assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    def test_the_export_itself_is_audited(self, tmp_path, trail, staff):
        export(tmp_path / "trail.csv", "--user", "curator", "--verb", "asset.*")

        event = AuditEvent.objects.get(verb="audit.exported")
        assert event.actor == staff
        assert event.after["filters"]["verb"] == "asset.*"
        assert event.after["rows"] == 3 and event.after["chain_head"] == 7

    @pytest.mark.parametrize(
        ("args", "sequences"),
        [
            (["--actor", "curator"], [2, 5]),
            (["--verb", "asset.ingested"], [1, 3, 6]),
            (["--verb", "legalhold.*"], [2, 4, 5]),
            (["--object", "archive.asset"], [1, 3, 4, 6]),
            (["--object", "archive.asset:1"], [1, 4]),
            (["--object", "archive.asset", "--actor", "archivist", "--verb", "legalhold.*"], [4]),
        ],
    )
    def test_filters(self, tmp_path, trail, args, sequences):
        path = tmp_path / "part.jsonl"

        export(path, "--format", "jsonl", *args)

        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["sequence"] for line in lines] == sequences
        assert manifest_of(path)["rows"] == len(sequences)
        assert "export verifies" in verify(path)

    def test_time_filters(self, tmp_path, trail):
        now = timezone.now()
        path = tmp_path / "window.csv"

        export(
            path,
            "--since",
            (now - dt.timedelta(hours=1)).isoformat(),
            "--until",
            (now + dt.timedelta(hours=1)).isoformat(),
        )
        assert len(csv_rows(path)) == 7
        export(path, "--until", (now - dt.timedelta(days=1)).date().isoformat())
        assert csv_rows(path) == []
        assert manifest_of(path)["rows"] == 0
        assert "export verifies: 0 events" in verify(path)

    def test_bad_arguments_are_refused(self, tmp_path, trail):
        with pytest.raises(CommandError, match="--since: expected a date"):
            export(tmp_path / "x.csv", "--since", "last tuesday")
        with pytest.raises(CommandError, match="later than --since"):
            export(tmp_path / "x.csv", "--since", "2025-02-01", "--until", "2025-01-01")

    def test_the_export_stops_at_the_head_it_started_from(self, trail):
        """Events written while an export streams are not half in it."""
        buffer = io.BytesIO()
        chunks, result = audit_export_stream(filters=AuditExportFilter(), fmt="jsonl")
        first = next(chunks)
        record("late.event")
        rest = b"".join(chunks)

        assert result.rows == 7 and result.head[0] == 7
        assert b"late.event" not in first + rest
        audit_export_write(fp=buffer, filters=AuditExportFilter(), fmt="jsonl", upto=7)
        assert buffer.getvalue() == first + rest


class TestVerifyExport:
    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_an_untouched_export_verifies(self, tmp_path, trail, fmt):
        path = tmp_path / f"trail.{fmt}"
        export(path, "--format", fmt)

        assert "export verifies: 7 events" in verify(path, "--against-database")

    def test_an_edited_row_is_named(self, tmp_path, trail):
        path = tmp_path / "trail.csv"
        export(path)
        rows = csv_rows(path)
        rows[2]["actor_name"] = "someone else"
        write_csv(path, rows)
        (tmp_path / "trail.csv.manifest.json").unlink()

        with pytest.raises(CommandError, match="event #3 was altered after it was written"):
            verify(path)

    def test_an_edit_with_the_manifest_present_fails_on_the_digest(self, tmp_path, trail):
        path = tmp_path / "trail.jsonl"
        export(path, "--format", "jsonl")
        path.write_text(path.read_text(encoding="utf-8").replace("curator", "nobody"))

        with pytest.raises(CommandError, match="SHA-256 differs from the manifest"):
            verify(path)

    def test_a_deleted_row_of_a_full_export_is_detected_without_the_digest(self, tmp_path, trail):
        path = tmp_path / "trail.csv"
        export(path)
        rows = csv_rows(path)
        del rows[3]
        write_csv(path, rows)
        rewrite_manifest_digest(path)

        with pytest.raises(CommandError, match="event #5 found where #4 was expected"):
            verify(path)

    def test_a_deleted_row_of_a_filtered_export_is_caught_by_the_manifest(self, tmp_path, trail):
        path = tmp_path / "asset.csv"
        export(path, "--object", "archive.asset")
        rows = csv_rows(path)
        write_csv(path, rows[:1] + rows[2:])
        rewrite_manifest_digest(path)

        with pytest.raises(CommandError, match="manifest lists 4 rows, the file has 3"):
            verify(path)

    def test_reordered_rows_are_detected(self, tmp_path, trail):
        path = tmp_path / "asset.csv"
        export(path, "--verb", "asset.ingested")
        rows = csv_rows(path)
        write_csv(path, [rows[1], rows[0], rows[2]])

        report = audit_export_verify(path=str(path), use_manifest=False)

        assert report.problems == ["event #1 follows #3 (rows reordered or repeated)"]

    def test_a_rehashed_forgery_breaks_the_link_to_the_next_row(self, tmp_path, trail):
        """Re-hashing a forged row does not help: the next row links to the original."""
        path = tmp_path / "asset.csv"
        export(path, "--object", "archive.asset")  # events 1, 3, 4, 6
        rows = csv_rows(path)
        rows[1] = forged(rows[1], actor_name="forger")  # event #3, followed by #4

        write_csv(path, rows)
        report = audit_export_verify(path=str(path), use_manifest=False)

        assert report.problems == ["event #4 does not link to event #3"]

    def test_a_forged_row_is_caught_against_the_database(self, tmp_path, trail):
        path = tmp_path / "refused.csv"
        export(path, "--verb", "legalhold.refused")
        rows = csv_rows(path)
        rows[0] = forged(rows[0], reason="nothing was refused")
        write_csv(path, rows)
        (tmp_path / "refused.csv.manifest.json").unlink()

        assert "export verifies" in verify(path)  # self-consistent on its own ...
        with pytest.raises(CommandError, match="event #4 differs from the event stored"):
            verify(path, "--against-database")  # ... but not what the database holds
