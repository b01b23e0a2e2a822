"""Uploads retried under an `Idempotency-Key`: the first answer again, never a second run."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from archive.models import ApiIdempotencyKey, Asset, AssetSource, AuditEvent
from tests.api.conftest import run_together, token_client
from tests.conftest import image_bytes, make_scene


def uploader(username: str):
    user = get_user_model().objects.create_user(username)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_asset", "view_asset", "add_collection"])
    )
    return token_client(user)


def upload(client, data: bytes, key: str | None = None, **fields):
    fp = io.BytesIO(data)
    fp.name = "tablet.jpg"
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    body = {"file": fp, "collection": "Field tablets", "path": "DCIM/1.jpg", **fields}
    return client.post("/api/v1/assets/", body, format="multipart", **headers)


@pytest.mark.django_db
class TestIdempotencyKey:
    def test_a_retry_with_the_same_key_replays_the_first_answer(self):
        client = uploader("tablet")
        data = image_bytes(make_scene(501))
        first = upload(client, data, key="upload-501")
        events = AuditEvent.objects.count()

        retries = [upload(client, data, key="upload-501") for _ in range(3)]

        assert first.status_code == 201
        for retry in retries:
            assert (retry.status_code, retry.json()) == (201, first.json())
            assert retry["Idempotent-Replayed"] == "true"
        assert Asset.objects.count() == 1
        assert AssetSource.objects.count() == 1
        assert AuditEvent.objects.count() == events  # nothing ran again

    def test_without_a_key_a_retry_is_still_idempotent_by_content(self):
        client = uploader("tablet")
        data = image_bytes(make_scene(502))

        first, retry = upload(client, data), upload(client, data)

        assert (first.status_code, retry.status_code) == (201, 200)
        assert retry.json()["status"] == "unchanged"
        assert Asset.objects.count() == 1

    def test_the_same_key_with_another_file_is_a_conflict(self):
        client = uploader("tablet")
        upload(client, image_bytes(make_scene(503)), key="k-1")

        other = upload(client, image_bytes(make_scene(504)), key="k-1")
        other_fields = upload(client, image_bytes(make_scene(503)), key="k-1", title="New")

        assert other.status_code == 409
        assert "different request" in other.json()["error"]["message"]
        assert other_fields.status_code == 409
        assert Asset.objects.count() == 1

    def test_keys_belong_to_their_user(self):
        tablet, laptop = uploader("tablet"), uploader("laptop")
        data = image_bytes(make_scene(505))

        first = upload(tablet, data, key="same")
        second = upload(laptop, image_bytes(make_scene(506)), key="same")

        assert (first.status_code, second.status_code) == (201, 201)
        assert ApiIdempotencyKey.objects.count() == 2

    def test_refused_files_are_replayed_too_and_failures_free_the_key(self, settings):
        client = uploader("tablet")
        refused = upload(client, b"not an image", key="bad")
        again = upload(client, b"not an image", key="bad")
        settings.KEEPSAKE_MAX_UPLOAD_BYTES = 10
        too_large = upload(client, image_bytes(make_scene(507)), key="big")
        settings.KEEPSAKE_MAX_UPLOAD_BYTES = 10**9
        later = upload(client, image_bytes(make_scene(507)), key="big")

        assert (refused.status_code, again.status_code) == (422, 422)
        assert again.json() == refused.json()
        assert (too_large.status_code, later.status_code) == (413, 201)

    @pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9"])
    def test_malformed_keys_are_refused(self, key):
        response = upload(uploader("tablet"), image_bytes(make_scene(508)), key=key)

        assert response.status_code == 400
        assert "Idempotency-Key" in response.json()["error"]["details"]
        assert Asset.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_run_the_upload_once(sqlite_waits_for_locks):
    """Two copies of one request in flight at once: one runs, the other replays its answer."""
    client = uploader("tablet")
    data = image_bytes(make_scene(509))

    answers = run_together(*[lambda: upload(client, data, key="twice")] * 2)

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 1
    assert Asset.objects.count() == 1
    assert AssetSource.objects.count() == 1
