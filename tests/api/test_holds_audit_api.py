"""Legal holds and the audit trail through the API: place, release, list, export, verify."""

import csv
import io
import json

import pytest
from django.db import connection

from archive.audit_export import EVENT_FIELDS
from archive.models import AuditEvent
from archive.services import collection_get_or_create
from tests.archive.db_protection import append_only_lifted
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def asset(db):
    return ingest_picture(collection=collection_get_or_create(name="Field photos")).asset


def test_compliance_places_and_releases_a_hold_and_the_held_filter_follows(clients, asset):
    officer, reader = clients["Compliance"], clients["Operator"]

    placed = officer.post(
        "/api/v1/holds/",
        {"matter_reference": "M-12", "reason": "subpoena", "assets": [asset.pk]},
        format="json",
    )
    hold = placed.json()
    held = reader.get("/api/v1/assets/?held=true").json()
    detail = reader.get(f"/api/v1/assets/{asset.pk}/").json()
    released = officer.post(
        f"/api/v1/holds/{hold['id']}/release/", {"reason": "settled"}, format="json"
    )
    again = officer.post(f"/api/v1/holds/{hold['id']}/release/", {"reason": "x"}, format="json")
    after = reader.get("/api/v1/assets/?held=true").json()

    assert placed.status_code == 201, hold
    assert (hold["active"], hold["placed_by"], hold["assets"]) == (True, "compliance", [asset.pk])
    assert [a["id"] for a in held["results"]] == [asset.pk]
    assert detail["held"] is True
    assert released.status_code == 200 and released.json()["active"] is False
    assert again.status_code == 409
    assert after["count"] == 0


def test_a_hold_needs_a_scope_and_a_reason(clients):
    response = clients["Compliance"].post(
        "/api/v1/holds/", {"matter_reference": "M-1", "reason": "r"}, format="json"
    )
    blank = clients["Compliance"].post(
        "/api/v1/holds/", {"matter_reference": "M-1", "reason": ""}, format="json"
    )

    assert response.status_code == 409
    assert "at least one asset" in response.json()["error"]["message"]
    assert blank.status_code == 400


def test_holds_list_filters_active_and_asset(clients, asset):
    officer = clients["Compliance"]
    for matter in ("M-1", "M-2"):
        officer.post(
            "/api/v1/holds/",
            {"matter_reference": matter, "reason": "r", "assets": [asset.pk]},
            format="json",
        )
    first = officer.get("/api/v1/holds/?matter_reference=M-1").json()["results"][0]
    officer.post(f"/api/v1/holds/{first['id']}/release/", {"reason": "done"}, format="json")

    active = officer.get("/api/v1/holds/?active=true").json()
    for_asset = officer.get(f"/api/v1/holds/?asset={asset.pk}").json()

    assert [h["matter_reference"] for h in active["results"]] == ["M-2"]
    assert for_asset["count"] == 2


def test_audit_events_filter_like_the_export(clients, asset):
    client = clients["Compliance"]

    ingested = client.get("/api/v1/audit/events/?verb=asset.*").json()
    by_object = client.get(f"/api/v1/audit/events/?object=archive.asset:{asset.pk}").json()
    wrong = client.get("/api/v1/audit/events/?since=yesterday")
    backwards = client.get("/api/v1/audit/events/?since=2030-01-01&until=2020-01-01")

    assert {e["verb"] for e in ingested["results"]} == {"asset.ingested"}
    assert by_object["count"] == 1
    # The schema says since/until are an ISO date or date-time; anything else is a 400
    # naming the field. An inverted range is valid and selects nothing.
    assert wrong.status_code == 400 and "since" in wrong.json()["error"]["details"]
    assert backwards.status_code == 200 and backwards.json()["count"] == 0


def test_the_export_streams_every_event_with_a_manifest_and_is_audited(clients, asset):
    client = clients["Compliance"]
    events = AuditEvent.objects.count()

    export = client.get("/api/v1/audit/export/?format=csv")
    body = b"".join(export.streaming_content).decode()
    upto = export["X-Audit-Upto"]
    manifest = client.get(f"/api/v1/audit/export/manifest/?format=csv&upto={upto}").json()
    lines = client.get(f"/api/v1/audit/export/?format=jsonl&upto={upto}")
    rows = [json.loads(line) for line in b"".join(lines.streaming_content).splitlines()]

    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(body)))
    assert tuple(table[0]) == EVENT_FIELDS
    assert len(table) == events == int(upto) == manifest["rows"] == len(rows)
    assert manifest["chain_head"]["sequence"] == events
    assert AuditEvent.objects.filter(verb="audit.exported").count() == 2
    assert client.get("/api/v1/audit/export/?upto=99999").status_code == 400
    assert client.get("/api/v1/audit/export/?format=xml").status_code == 400


def test_verify_names_the_first_altered_event(clients, asset):
    client = clients["Compliance"]
    intact = client.get("/api/v1/audit/verify/").json()
    # Behind the application's back, as a database superuser would.
    with append_only_lifted(), connection.cursor() as cursor:
        cursor.execute("UPDATE archive_auditevent SET reason = 'forged' WHERE sequence = 1")

    broken = client.get("/api/v1/audit/verify/").json()

    assert intact["ok"] is True and intact["checked"] == AuditEvent.objects.count()
    assert broken["ok"] is False
    assert broken["problem"] == {
        "sequence": 1,
        "message": "event #1 was altered after it was written",
    }
