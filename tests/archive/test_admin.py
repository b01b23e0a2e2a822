"""The admin shows the records with thumbnails and offers no way to delete assets or events."""

import pytest
from django.urls import reverse

from archive.errors import ArchiveError
from archive.models import Asset, AuditEvent, CatalogueEntry
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal", path="survey/teal.jpg").asset


def test_asset_list_shows_thumbnails_and_no_bulk_delete(admin_client, asset):
    response = admin_client.get(reverse("admin:archive_asset_changelist"))

    page = response.content.decode()
    assert response.status_code == 200
    assert reverse("archive:asset-rendition", args=[asset.pk, "thumb"]) in page
    assert "teal.jpg" in page
    assert "delete_selected" not in page


def test_asset_pages_offer_no_delete(admin_client, asset):
    change = admin_client.get(reverse("admin:archive_asset_change", args=[asset.pk]))
    delete = admin_client.get(reverse("admin:archive_asset_delete", args=[asset.pk]))

    assert change.status_code == 200
    assert "survey/teal.jpg" in change.content.decode()
    assert delete.status_code == 403


def test_bulk_delete_post_is_refused(admin_client, asset):
    response = admin_client.post(
        reverse("admin:archive_asset_changelist"),
        {"action": "delete_selected", "_selected_action": [asset.pk], "post": "yes"},
    )

    assert response.status_code in (200, 302)
    assert Asset.objects.filter(pk=asset.pk).exists()


def test_asset_delete_in_code_is_refused(asset):
    with pytest.raises(ArchiveError, match="removal goes through retention"):
        asset.delete()
    with pytest.raises(ArchiveError, match="removal goes through retention"):
        Asset.objects.all().delete()
    assert Asset.objects.count() == 1


def test_renditions_are_small_jpegs(admin_client, asset):
    response = admin_client.get(reverse("archive:asset-rendition", args=[asset.pk, "thumb"]))

    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(b"".join(response.streaming_content)))
    assert response["Content-Type"] == "image/jpeg"
    assert image.format == "JPEG" and max(image.size) <= 160


def test_asset_file_needs_staff(client, asset):
    response = client.get(reverse("archive:asset-file", args=[asset.pk]))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_asset_file_streams_the_stored_bytes(admin_client, asset):
    response = admin_client.get(reverse("archive:asset-file", args=[asset.pk]))

    import hashlib

    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == asset.sha256


def test_audit_events_are_read_only_in_the_admin(admin_client, asset):
    event = AuditEvent.objects.first()

    listing = admin_client.get(reverse("admin:archive_auditevent_changelist"))
    add = admin_client.get(reverse("admin:archive_auditevent_add"))
    delete = admin_client.get(reverse("admin:archive_auditevent_delete", args=[event.pk]))
    post = admin_client.post(
        reverse("admin:archive_auditevent_change", args=[event.pk]), {"reason": "edited"}
    )

    assert listing.status_code == 200
    assert (add.status_code, delete.status_code, post.status_code) == (403, 403, 403)
    event.refresh_from_db()
    assert event.reason == ""


def test_editing_an_entry_in_the_admin_is_audited(admin_client, asset, staff):
    entry = asset.entries.get()
    url = reverse("admin:archive_catalogueentry_change", args=[entry.pk])
    form = {
        "asset": asset.pk,
        "collection": entry.collection_id,
        "title": "Main Street façade",
        "description": "",
        "accession_number": "MS-1",
        "creator": "",
        "subjects": "[]",
        "licences-TOTAL_FORMS": 0,
        "licences-INITIAL_FORMS": 0,
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert CatalogueEntry.objects.get(pk=entry.pk).title == "Main Street façade"
    event = AuditEvent.objects.get(verb="catalogueentry.changed")
    assert event.actor == staff
    assert event.before["title"] == "teal.jpg"
    assert event.after == {"title": "Main Street façade", "accession_number": "MS-1"}
