"""The assets API: upload with the pre-ingest check, retries, errors, filters, auth."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from archive.models import Asset, IngestRejection
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    user = get_user_model().objects.create_user("tablet", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_asset", "add_asset", "view_duplicatecandidate"]
        )
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def upload(api, data: bytes, name="photo.jpg", **fields):
    fp = io.BytesIO(data)
    fp.name = name
    return api.post(
        "/api/v1/assets/", {"file": fp, "collection": "Field tablets", **fields}, format="multipart"
    )


def test_upload_answers_with_the_asset_and_possible_duplicates(api):
    scene = make_scene(61)
    first = upload(api, image_bytes(scene, quality=92), path="DCIM/100/a.jpg")

    second = upload(api, image_bytes(scene.resize((160, 120))), name="a-small.jpg")

    assert first.status_code == 201, first.json()
    assert first.json()["asset"]["original_path"] == "DCIM/100/a.jpg"
    assert first.json()["asset"]["fingerprint"]["phash"] is not None
    assert second.status_code == 201
    assert second.json()["possible_duplicates"] == [first.json()["asset"]["id"]]


def test_a_retried_upload_returns_the_held_asset_without_a_second_copy(api):
    data = image_bytes(make_scene(62))
    first = upload(api, data, path="DCIM/a.jpg")

    retry = upload(api, data, path="DCIM/a.jpg")
    elsewhere = upload(api, data, path="backup/a.jpg")

    assert (retry.status_code, retry.json()["status"]) == (200, "unchanged")
    assert (elsewhere.status_code, elsewhere.json()["status"]) == (200, "attached")
    assert retry.json()["asset"]["id"] == first.json()["asset"]["id"]
    assert Asset.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"plain text, not a picture", "not an image")],
)
def test_bad_files_get_a_clear_error_body(api, data, message):
    response = upload(api, data, name="bad.jpg")

    assert response.status_code in (400, 422)
    error = response.json()["error"]
    assert error["code"] in ("invalid", "invalid_image")
    assert message in error["message"] or "empty" in str(error)


def test_oversized_uploads_are_refused(api, settings):
    settings.KEEPSAKE_MAX_UPLOAD_BYTES = 100

    response = upload(api, image_bytes(make_scene(63)))

    assert response.status_code == 413
    assert "exceeds the upload limit" in response.json()["error"]["message"]
    assert Asset.objects.count() == 0


def test_decompression_bombs_are_refused(api, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    response = upload(api, image_bytes(make_scene(64)))

    assert response.status_code == 422
    assert "decompression bomb" in response.json()["error"]["message"]
    assert IngestRejection.objects.count() == 1


def test_list_filters_and_detail(api):
    upload(api, image_bytes(make_scene(65)), published="true")
    upload(api, image_bytes(make_scene(66)))

    everything = api.get("/api/v1/assets/").json()
    published = api.get("/api/v1/assets/?published=true").json()
    detail = api.get(f"/api/v1/assets/{everything['results'][0]['id']}/")

    assert everything["count"] == 2
    assert published["count"] == 1
    assert detail.status_code == 200 and "exif" in detail.json()
    assert api.get("/api/v1/assets/999999/").json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/assets/?state=lost").status_code == 400


def test_anonymous_and_unprivileged_users_are_refused(db):
    anonymous = APIClient()
    nobody = APIClient()
    nobody.force_authenticate(get_user_model().objects.create_user("nobody"))

    assert anonymous.get("/api/v1/assets/").status_code == 401
    assert nobody.get("/api/v1/assets/").status_code == 403
    assert nobody.post("/api/v1/assets/", {}).status_code == 403
