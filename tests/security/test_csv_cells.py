"""CSV outputs never hand a spreadsheet a formula: cells starting with = + - @ TAB or CR
are prefixed with a single quote (the audit export undoes it when verifying)."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from archive.actors import SYSTEM
from archive.audit import audit_record
from archive.audit_export import (
    AuditExportFilter,
    audit_export_to_file,
    audit_export_verify,
    csv_cell_restore,
    csv_cell_safe,
)
from dedup.report_formats import report_csv

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# No NUL: PostgreSQL text cannot hold it (and the API's fields refuse it before a service).
text = st.text(st.characters(exclude_characters="\x00"), max_size=40)
hostile = st.one_of(
    text,
    st.builds(lambda c, s: c + s, st.sampled_from([*TRIGGERS, "'"]), text),
)


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


@given(hostile)
def test_a_neutralised_cell_never_starts_a_formula_and_comes_back_exactly(value):
    safe = csv_cell_safe(value)

    assert not safe.startswith(TRIGGERS)
    assert csv_cell_restore(safe) == value
    if not value.startswith((*TRIGGERS, "'")):
        assert safe == value


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reason=hostile, actor=hostile, object_id=hostile)
@pytest.mark.django_db
def test_the_audit_csv_is_safe_and_still_verifies(tmp_path_factory, reason, actor, object_id):
    with transaction.atomic():
        # A user name is whatever someone typed.
        person = get_user_model().objects.create_user(actor or "x")
        audit_record(
            actor=person,
            verb="=cmd|' /C calc'!A0",
            object_type="-2+3",
            object_id=object_id or "@x",
            reason=reason,
            after={"v": -1},
        )
        path = str(tmp_path_factory.mktemp("export") / "audit.csv")

        result, _ = audit_export_to_file(
            path=path, filters=AuditExportFilter(), fmt="csv", actor=SYSTEM
        )
        transaction.set_rollback(True)

    with open(path, encoding="utf-8", newline="") as fp:
        body = fp.read()
    assert all(not cell.startswith(TRIGGERS) for cell in cells(body))
    assert result.rows >= 1


@pytest.mark.django_db
def test_a_hostile_audit_export_verifies(tmp_path):
    with transaction.atomic():
        audit_record(
            actor=SYSTEM,
            verb='=HYPERLINK("http://x")',
            object_type="@SUM(1)",
            object_id="-1",
            reason="\t+1",
            after={"n": -3},
        )
    path = str(tmp_path / "audit.csv")

    audit_export_to_file(path=path, filters=AuditExportFilter(), fmt="csv", actor=SYSTEM)
    report = audit_export_verify(path=path)

    body = (tmp_path / "audit.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in body and "'@SUM(1)" in body
    assert report.ok, report.problems


def _pair(a_path: str, b_path: str, reason: str) -> dict:
    side = {"id": None, "sha256": "0" * 64}
    return {
        "a": {**side, "path": a_path},
        "b": {**side, "path": b_path},
        "kind": "exact",
        "distances": {"phash": 0, "dhash": 0},
        "status": "pending",
        "evidence": {"reason": reason},
    }


@given(a=hostile, b=hostile, reason=hostile)
def test_the_scan_report_csv_is_safe(a, b, reason):
    body = report_csv({"pairs": [_pair(a, b, reason)]})

    assert all(not cell.startswith(TRIGGERS) for cell in cells(body))
    assert cells(body)[11:] != [] and csv_cell_restore(cells(body)[12]) == a
