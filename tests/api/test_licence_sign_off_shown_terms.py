"""The sign-off endpoint names the terms it accepts; changed terms answer 409, never 500."""

import pytest

from archive.models import LicenceSignOff
from archive.services import collection_get_or_create
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def conflict(clients):
    collection = collection_get_or_create(name="Field photos")
    assets = [ingest_picture(collection=collection, colour=c).asset for c in ("teal", "navy")]
    licences = []
    for asset, (holder, kind) in zip(
        assets, [("Staff", "staff"), ("Reuters", "agency")], strict=True
    ):
        response = clients["Licensing"].post(
            "/api/v1/licences/",
            {"entry": asset.entries.get().pk, "holder": holder, "licence_type": kind},
            format="json",
        )
        assert response.status_code == 201, response.json()
        licences.append(response.json())
    return assets, licences


def compare(client, assets) -> dict:
    query = "&".join(f"assets={a.pk}" for a in assets)
    return client.get(f"/api/v1/licences/compare/?{query}").json()


def sign_off(client, assets, **body):
    return client.post(
        "/api/v1/licences/sign-off/",
        {"assets": [a.pk for a in assets], "reason": "one agreement", **body},
        format="json",
    )


def test_terms_changed_after_the_comparison_are_refused_with_409(clients, conflict):
    assets, licences = conflict
    client = clients["Licensing"]
    shown = compare(client, assets)["terms_fingerprint"]
    patched = client.patch(
        f"/api/v1/licences/{licences[1]['id']}/", {"restrictions": "no online use"}, format="json"
    )
    assert patched.status_code == 200

    response = sign_off(client, assets, terms_fingerprint=shown)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "changed after they were shown" in response.json()["error"]["message"]
    assert not LicenceSignOff.objects.exists()
    again = sign_off(client, assets, terms_fingerprint=compare(client, assets)["terms_fingerprint"])
    assert again.status_code == 201
    assert again.json()["terms_fingerprint"] == compare(client, assets)["terms_fingerprint"]


@pytest.mark.parametrize("fingerprint", [None, "", "0" * 63, "not-a-fingerprint"])
def test_a_sign_off_must_name_the_terms_shown(clients, conflict, fingerprint):
    assets, _ = conflict
    body = {} if fingerprint is None else {"terms_fingerprint": fingerprint}

    response = sign_off(clients["Licensing"], assets, **body)

    assert response.status_code == 400
    assert "terms_fingerprint" in response.json()["error"]["details"]
    assert not LicenceSignOff.objects.exists()


def test_a_well_formed_fingerprint_of_other_terms_is_a_conflict(clients, conflict):
    assets, _ = conflict

    response = sign_off(clients["Licensing"], assets, terms_fingerprint="a" * 64)

    assert response.status_code == 409
    assert not LicenceSignOff.objects.exists()
