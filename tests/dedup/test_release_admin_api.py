"""Releases from the admin and the API call the same service and write under the root."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from dedup.models import DatasetRelease
from tests.dedup.release_fixtures import archive_build, consolidate, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(settings, tmp_path):
    settings.KEEPSAKE_RELEASES_ROOT = tmp_path / "releases"
    return archive_build()


def api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_publishes_lists_and_shows_a_release(archive, tmp_path):
    client = api_client(archive.curator)
    body = {"collections": ["Permits", "Press"], "format": "bagit"}

    created = client.post("/api/v1/releases/", body, format="json")

    assert created.status_code == 201, created.content
    release = created.json()
    assert (release["version"], release["files"], release["format"]) == (1, 3, "bagit")
    assert {row["reason"] for row in release["left_out"]} == {
        "licence Agency does not allow reuse",
        "no licence recorded",
    }
    bag = tmp_path / "releases" / "permits-press-bagit" / "v1"
    assert (bag / "manifest-sha256.txt").exists() and release["output"].endswith("bagit")
    listed = client.get("/api/v1/releases/").json()
    assert [r["version"] for r in listed["results"]] == [1]
    detail = client.get(f"/api/v1/releases/{release['id']}/").json()
    assert detail["notice"]["files"] == 3 and len(detail["items"]) == 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"collections": ["Nowhere"]}, 409, "unknown_reference"),
        ({"collections": []}, 400, "invalid"),
        ({"collections": ["Permits"], "format": "zip"}, 400, "invalid"),
        ({}, 400, "invalid"),
    ],
)
def test_api_refuses_bad_requests_with_a_clear_error(archive, body, status, code):
    response = api_client(archive.curator).post("/api/v1/releases/", body, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not DatasetRelease.objects.exists()


def test_api_refuses_without_the_publish_permission(archive):
    reader = user_with("reader", "view_datasetrelease")
    response = api_client(reader).post(
        "/api/v1/releases/", {"collections": ["Permits"]}, format="json"
    )
    assert response.status_code == 403
    assert api_client(reader).get("/api/v1/releases/").status_code == 200


def test_admin_form_action_and_notice(archive, tmp_path):
    curator = archive.curator
    curator.is_staff = True
    curator.save()
    client = Client()
    client.force_login(curator)
    collections = [c.pk for c in archive.collections]

    page = client.get(reverse("admin:dedup_datasetrelease_publish"))
    assert page.status_code == 200 and b"Publish" in page.content
    response = client.post(
        reverse("admin:dedup_datasetrelease_publish"),
        {"collections": collections, "dataset": "Paris clean set", "format": "ocfl"},
    )
    first = DatasetRelease.objects.get()
    assert response.status_code == 302
    assert (tmp_path / "releases" / "paris-clean-set-ocfl" / "inventory.json").exists()

    consolidate(archive)
    client.post(
        reverse("admin:dedup_datasetrelease_changelist"),
        {"action": "publish_next", "_selected_action": [first.pk]},
    )
    second = DatasetRelease.objects.get(version=2)
    assert second.dataset == "Paris clean set" and second.actor_name == "curator"

    notice = client.get(reverse("admin:dedup_datasetrelease_notice", args=[second.pk]))
    assert notice.status_code == 200 and b"Removed as duplicates (1)" in notice.content
    as_json = client.get(
        reverse("admin:dedup_datasetrelease_notice", args=[second.pk]) + "?format=json"
    )
    assert json.loads(as_json.content)["removed_as_duplicates"][0]["canonical"] == archive.big.pk
    changelist = client.get(reverse("admin:dedup_datasetrelease_changelist"))
    assert b"Publish a release" in changelist.content
