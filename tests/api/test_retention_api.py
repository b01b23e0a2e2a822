"""Quarantine, disposition requests and storage figures through the API (retention's services)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from archive.models import Asset
from archive.services import collection_get_or_create
from retention.models import QuarantineRecord
from retention.services import asset_quarantine
from tests.api.conftest import token_client
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarantined(members):
    collection = collection_get_or_create(name="Field photos")
    assets = [ingest_picture(collection=collection, colour=c).asset for c in ("teal", "navy")]
    for asset in assets:
        asset_quarantine(asset=asset, reason="superseded", actor=members["Archivist"])
    return assets


def test_quarantine_lists_deadlines_soonest_first_and_restores(clients, quarantined):
    first, second = quarantined
    QuarantineRecord.objects.filter(asset=second).update(
        restore_deadline=timezone.now() + timedelta(days=2)
    )
    client = clients["Archivist"]

    listed = client.get("/api/v1/quarantine/").json()
    soon = client.get(
        "/api/v1/quarantine/", {"deadline_before": (timezone.now() + timedelta(days=3)).isoformat()}
    ).json()
    record = QuarantineRecord.objects.get(asset=first)
    restored = client.post(
        f"/api/v1/quarantine/{record.pk}/restore/", {"reason": "needed"}, format="json"
    )
    again = client.post(f"/api/v1/quarantine/{record.pk}/restore/", {}, format="json")

    assert [r["asset"] for r in listed["results"]] == [second.pk, first.pk]
    assert listed["results"][0]["window_open"] is True
    assert [r["asset"] for r in soon["results"]] == [second.pk]
    assert restored.status_code == 200
    assert (restored.json()["id"], restored.json()["state"]) == (first.pk, "active")
    assert again.status_code == 409
    assert client.get("/api/v1/quarantine/").json()["count"] == 1


def test_a_disposition_is_filed_approved_by_another_and_executed(clients, quarantined):
    filed = clients["Archivist"].post(
        "/api/v1/dispositions/",
        {"assets": [a.pk for a in quarantined], "reason": "duplicates"},
        format="json",
    )
    request_id = filed.json()["id"]
    clash = clients["Archivist"].post(
        "/api/v1/dispositions/", {"assets": [quarantined[0].pk], "reason": "again"}, format="json"
    )
    empty = clients["Archivist"].post(
        "/api/v1/dispositions/", {"assets": [], "reason": "x"}, format="json"
    )
    approved = clients["Compliance"].post(
        f"/api/v1/dispositions/{request_id}/approve/", {"reason": "checked"}, format="json"
    )
    executed = clients["Compliance"].post(f"/api/v1/dispositions/{request_id}/execute/")

    assert filed.status_code == 201, filed.json()
    assert filed.json()["status"] == "awaiting approval"
    assert filed.json()["requested_by"] == "archivist"
    assert clash.status_code == 409
    assert empty.status_code == 400
    assert approved.status_code == 200
    assert approved.json()["approved_by"] == "compliance"
    assert executed.status_code == 200
    outcomes = {item["asset"]: item["outcome"] for item in executed.json()["items"]}
    assert all("restore window open" in outcome for outcome in outcomes.values())
    assert Asset.objects.filter(state="purged").count() == 0


def test_the_requester_cannot_approve_their_own_request(members, quarantined):
    both = get_user_model().objects.create_user("both")
    both.groups.add(*Group.objects.filter(name__in=["Archivist", "Compliance"]))
    client = token_client(both)
    filed = client.post(
        "/api/v1/dispositions/", {"assets": [quarantined[0].pk], "reason": "dup"}, format="json"
    ).json()

    own = client.post(f"/api/v1/dispositions/{filed['id']}/approve/", {}, format="json")

    assert own.status_code == 409
    assert own.json()["error"]["code"] == "four_eyes"


def test_storage_figures(clients, quarantined):
    figures = clients["Operator"].get("/api/v1/reports/storage/").json()

    assert figures["total_count"] == 2
    assert figures["duplicates"]["quarantined_count"] == 2
    assert {tier["tier"] for tier in figures["tiers"]} >= {"hot", "cold", "quarantine"}
