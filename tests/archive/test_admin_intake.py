"""The web upload with its prompt and the intake queue, through the admin's pages."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.models import Asset, CatalogueEntry, Collection, IngestRejection, IntakeItem
from tests.archive.helpers import ingest_bytes
from tests.archive.people import role_member
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

UPLOAD = "/admin/archive/intakeitem/upload/"


@pytest.fixture
def operator(client):
    person = role_member("Operator", "uploader")
    client.force_login(person)
    return person


def _post(client, data: bytes, name: str, collection: Collection, **fields):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return client.post(UPLOAD, {"collection": collection.pk, "file": upload, **fields})


def _original(collection, seed=21):
    scene = make_scene(seed)
    ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    return scene


def test_a_new_image_is_stored_at_once(client, operator, collection):
    response = _post(client, image_bytes(make_scene(20)), "new.jpg", collection, title="New")

    asset = Asset.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/archive/asset/{asset.pk}/change/")
    assert CatalogueEntry.objects.get().title == "New"


def test_a_copy_is_staged_and_the_uploader_sees_both_and_chooses(client, operator, collection):
    scene = _original(collection)
    copy = image_bytes(scene.resize((160, 120)), quality=60)

    response = _post(client, copy, "a-small.jpg", collection, title="Small")

    item = IntakeItem.objects.get()
    assert response["Location"].endswith(f"/admin/archive/intakeitem/{item.pk}/decide/")
    assert (item.status, item.via, item.created_by) == ("waiting", "web", operator)
    assert Asset.objects.count() == 1
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "looks like" in text and "Derivative" in text
    assert "Store anyway" in text and "Add as another record" in text
    original = Asset.objects.get()
    assert f"/archive/assets/{original.pk}/thumb.jpg" in text or "thumb.jpg" in text

    chosen = client.post(response["Location"], {"add_record": "1", "reason": "same photograph"})

    assert chosen.status_code == 302
    item.refresh_from_db()
    assert item.status == IntakeItem.Status.RECORD_ADDED
    assert original.entries.count() == 2


def test_a_reason_is_required_and_nothing_happens_without_one(client, operator, collection):
    scene = _original(collection)
    _post(client, image_bytes(scene.resize((160, 120))), "a-small.jpg", collection)
    item = IntakeItem.objects.get()

    page = client.post(f"/admin/archive/intakeitem/{item.pk}/decide/", {"store": "1"})

    assert page.status_code == 200
    assert "This field is required" in page.content.decode()
    item.refresh_from_db()
    assert item.status == IntakeItem.Status.WAITING


def test_at_a_hold_gate_the_uploader_waits_for_a_curator(client, operator, collection):
    collection.intake_policy = Collection.IntakePolicy.HOLD
    collection.save()
    scene = _original(collection)
    _post(client, image_bytes(scene.resize((160, 120))), "a-small.jpg", collection)
    item = IntakeItem.objects.get()
    url = f"/admin/archive/intakeitem/{item.pk}/decide/"

    page = client.get(url)
    assert "A curator decides" in page.content.decode()
    assert client.post(url, {"store": "1", "reason": "mine"}).status_code == 403

    client.force_login(role_member("Archivist", "curator"))
    queue = client.get("/admin/archive/intakeitem/", follow=True)
    assert "a-small.jpg" in queue.content.decode()
    done = client.post(url, {"store": "1", "reason": "a different print"})
    assert done.status_code == 302
    assert Asset.objects.count() == 2


def test_the_staged_upload_is_shown_re_encoded_never_as_sent(client, operator, collection):
    scene = _original(collection)
    _post(client, image_bytes(scene.resize((160, 120)), "PNG"), "a-small.png", collection)
    item = IntakeItem.objects.get()

    image = client.get(f"/admin/archive/intakeitem/{item.pk}/image.jpg")

    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content)[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    "data, name",
    [
        (b"<html><script>alert(1)</script></html>", "page.html"),
        (b"", "empty.jpg"),
        (image_bytes(make_scene(3))[:200], "truncated.jpg"),
    ],
)
def test_a_file_that_is_not_an_image_gets_a_clear_error_and_is_recorded(
    client, operator, collection, data, name
):
    response = _post(client, data, name, collection)

    assert response.status_code == 200
    text = response.content.decode()
    assert "Not stored" in text or "submitted file is empty" in text
    assert not Asset.objects.exists()
    if data:
        assert IngestRejection.objects.filter(path=name).exists()


def test_nobody_without_upload_permission_reaches_the_page(client, collection):
    client.force_login(role_member("Compliance", "officer"))
    assert client.get(UPLOAD).status_code == 403


def test_an_upload_held_by_the_gate_stays_the_curators_after_the_policy_changes(
    client, operator, collection
):
    collection.intake_policy = Collection.IntakePolicy.HOLD
    collection.save()
    scene = _original(collection)
    _post(client, image_bytes(scene.resize((160, 120))), "a-small.jpg", collection)
    item = IntakeItem.objects.get()
    collection.intake_policy = Collection.IntakePolicy.ADMIT
    collection.save()

    refused = client.post(
        f"/admin/archive/intakeitem/{item.pk}/decide/", {"store": "1", "reason": "mine"}
    )

    assert refused.status_code == 403
    item.refresh_from_db()
    assert item.status == IntakeItem.Status.WAITING
