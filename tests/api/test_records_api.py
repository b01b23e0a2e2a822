"""Catalogue entries and licences through the API: saved by `record_save`, so audited."""

import pytest

from archive.models import AuditEvent, CatalogueEntry, Licence, LicenceSignOff
from archive.services import collection_get_or_create
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def asset(db):
    return ingest_picture(collection=collection_get_or_create(name="Field photos")).asset


def test_an_archivist_describes_an_asset_and_the_change_is_audited(clients, asset):
    client = clients["Archivist"]

    created = client.post(
        "/api/v1/entries/",
        {
            "asset": asset.pk,
            "collection": "Field photos",
            "title": "Harbour, 1931",
            "subjects": ["harbour", "ships"],
            "reason": "catalogued from the register",
        },
        format="json",
    )
    entry = created.json()
    changed = client.patch(f"/api/v1/entries/{entry['id']}/", {"creator": "J. Doe"}, format="json")

    assert created.status_code == 201, entry
    assert changed.status_code == 200
    assert changed.json()["creator"] == "J. Doe"
    assert changed.json()["title"] == "Harbour, 1931"
    event = AuditEvent.objects.filter(verb="catalogueentry.changed").get()
    assert (event.actor_name, event.after) == ("archivist", {"creator": "J. Doe"})
    created_event = AuditEvent.objects.get(verb="catalogueentry.created")
    assert created_event.reason == "catalogued from the register"


def test_model_rules_answer_400_with_the_field(clients, asset):
    entry = asset.entries.get()

    backwards = clients["Archivist"].patch(
        f"/api/v1/entries/{entry.pk}/",
        {"date_start": "1931-05-01", "date_end": "1930-01-01"},
        format="json",
    )
    unknown = clients["Archivist"].post(
        "/api/v1/entries/",
        {"asset": asset.pk, "collection": "Nowhere", "title": "x"},
        format="json",
    )

    assert backwards.status_code == 400
    assert backwards.json()["error"]["code"] == "invalid"
    assert unknown.status_code == 409
    assert unknown.json()["error"]["code"] == "unknown_reference"
    assert "collection" in unknown.json()["error"]["details"]
    assert CatalogueEntry.objects.get(pk=entry.pk).date_end is None


def test_publishing_is_not_an_entry_field(clients, asset):
    entry = asset.entries.get()

    clients["Archivist"].patch(f"/api/v1/entries/{entry.pk}/", {"published": True}, format="json")

    assert CatalogueEntry.objects.get(pk=entry.pk).published is False


def test_licensing_keeps_licences_and_signs_off_a_conflict(clients, asset):
    other = ingest_picture(
        collection=collection_get_or_create(name="Field photos"), colour="navy"
    ).asset
    client = clients["Licensing"]
    for target, holder in ((asset, "Staff"), (other, "Agency")):
        response = client.post(
            "/api/v1/licences/",
            {"entry": target.entries.get().pk, "holder": holder, "licence_type": "staff"},
            format="json",
        )
        assert response.status_code == 201, response.json()
    query = f"/api/v1/licences/compare/?assets={asset.pk}&assets={other.pk}"

    before = client.get(query).json()
    signed = client.post(
        "/api/v1/licences/sign-off/",
        {
            "assets": [asset.pk, other.pk],
            "terms_fingerprint": before["terms_fingerprint"],
            "reason": "one agreement",
        },
        format="json",
    )
    after = client.get(query).json()
    twice = client.post(
        "/api/v1/licences/sign-off/",
        {
            "assets": [asset.pk, other.pk],
            "terms_fingerprint": before["terms_fingerprint"],
            "reason": "again",
        },
        format="json",
    )

    assert (before["conflict"], before["differing_fields"]) == (True, ["holder"])
    assert before["sign_off"] is None
    assert signed.status_code == 201
    assert after["sign_off"]["signed_by"] == "licensing"
    assert twice.status_code == 409
    assert LicenceSignOff.objects.count() == 1
    assert AuditEvent.objects.filter(verb="licence.created").count() == 2


def test_licence_changes_are_audited_and_entries_cannot_be_deleted(clients, asset):
    client = clients["Licensing"]
    licence = client.post(
        "/api/v1/licences/", {"entry": asset.entries.get().pk, "holder": "Staff"}, format="json"
    ).json()

    changed = client.patch(
        f"/api/v1/licences/{licence['id']}/", {"valid_until": "2030-12-31"}, format="json"
    )
    deleted = clients["Archivist"].delete(f"/api/v1/entries/{asset.entries.get().pk}/")

    assert changed.json()["valid_until"] == "2030-12-31"
    assert AuditEvent.objects.filter(verb="licence.changed").count() == 1
    assert Licence.objects.count() == 1
    assert deleted.status_code == 405
