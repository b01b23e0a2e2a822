"""Downloading a filtered audit export and its manifest from the admin."""

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from archive.holds import legal_hold_place
from archive.models import AuditEvent
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client):
    officer = person(
        "auditor",
        "archive.view_auditevent",
        "archive.export_audit",
        "archive.place_legal_hold",
    )
    client.force_login(officer)
    return officer


def test_a_filtered_export_downloads_as_one_zip_that_verifies(
    client, officer, collection, tmp_path
):
    asset = ingest_picture(collection=collection).asset
    legal_hold_place(matter_reference="M-1", reason="r", assets=[asset], actor=officer)
    url = reverse("admin:archive_auditevent_export")
    form = client.get(url)
    upto = AuditEvent.objects.last().sequence

    data = client.post(url, {"verb": "legalhold.*", "format": "csv", "upto": upto, "download": "1"})

    assert form.status_code == 200 and "Download manifest" not in form.content.decode()
    name = data["Content-Disposition"].split('filename="')[1].rstrip('"')
    assert name == f"keepsake-audit-upto-{upto}.zip" and data["Content-Type"] == "application/zip"
    export = tmp_path / name
    export.write_bytes(b"".join(data.streaming_content))
    with zipfile.ZipFile(export) as bundle:
        body = bundle.read("events.csv")
        manifest = json.loads(bundle.read("manifest.json"))
    assert body.count(b"legalhold.placed") == 1 and b"asset.ingested" not in body
    assert manifest["summary"]["listed"] == 1 and manifest["checkpoint"]["size"] == upto
    out = io.StringIO()
    call_command("verify_audit", "--file", str(export), "--against-database", stdout=out)
    assert "verifies: 1 events listed" in out.getvalue()
    assert AuditEvent.objects.filter(verb="audit.exported", actor=officer).count() == 1


def test_events_are_listed_newest_first_with_their_objects_linked(client, officer, collection):
    asset = ingest_picture(collection=collection).asset
    hold = legal_hold_place(matter_reference="M-2", reason="r", assets=[asset], actor=officer)

    page = client.get(reverse("admin:archive_auditevent_changelist")).content.decode()

    rows = page.split("<tbody>")[1].split("</tr>")
    newest = AuditEvent.objects.order_by("-sequence").first()
    assert f">{newest.sequence}<" in rows[0]
    link = reverse("admin:archive_legalhold_change", args=[hold.pk])
    assert f'<a href="{link}">archive.legalhold:{hold.pk}</a>' in page
    asset_link = reverse("admin:archive_asset_change", args=[asset.pk])
    assert f'<a href="{asset_link}">' in page


def test_bad_filters_are_shown_on_the_form(client, officer):
    response = client.post(
        reverse("admin:archive_auditevent_export"),
        {"since": "yesterday-ish", "format": "csv", "upto": 0, "download": "1"},
    )

    assert response.status_code == 200
    assert "expected a date" in response.content.decode()


def test_the_changelist_links_the_export_only_for_exporters(client, officer):
    listing = client.get(reverse("admin:archive_auditevent_changelist")).content.decode()
    client.force_login(person("reader", "archive.view_auditevent"))
    other = client.get(reverse("admin:archive_auditevent_changelist")).content.decode()
    refused = client.get(reverse("admin:archive_auditevent_export"))

    assert reverse("admin:archive_auditevent_export") in listing
    assert reverse("admin:archive_auditevent_export") not in other
    assert refused.status_code == 403


def test_exporting_needs_no_hold_rights(client):
    client.force_login(compliance_officer("placer"))

    assert client.get(reverse("admin:archive_auditevent_export")).status_code == 403


def test_a_get_never_exports_or_writes_an_event(client, officer):
    """A link or an <img> on another site can make a browser GET; only a POST exports."""
    url = reverse("admin:archive_auditevent_export")

    response = client.get(url, {"format": "csv", "upto": 0, "download": "1"})

    assert response.status_code == 200
    assert not response.get("Content-Disposition")
    assert not AuditEvent.objects.filter(verb="audit.exported").exists()
    assert 'method="post"' in response.content.decode()
    assert "csrfmiddlewaretoken" in response.content.decode()


def test_the_export_post_needs_the_csrf_token(officer):
    from django.test import Client

    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(officer)

    response = guarded.post(
        reverse("admin:archive_auditevent_export"), {"format": "csv", "upto": 0, "download": "1"}
    )

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(verb="audit.exported").exists()


def test_the_public_key_downloads_from_the_checkpoint_list(client, officer):
    from archive import verifier
    from archive.checkpoints import signing_key

    officer.user_permissions.add(
        Permission.objects.get(codename="view_checkpoint", content_type__app_label="archive")
    )
    listing = client.get(reverse("admin:archive_checkpoint_changelist")).content.decode()
    key = client.get(reverse("admin:archive_checkpoint_public_key"))
    client.force_login(person("reader", "archive.view_auditevent"))
    refused = client.get(reverse("admin:archive_checkpoint_public_key"))

    assert reverse("admin:archive_checkpoint_public_key") in listing
    assert verifier.public_key_load(key.content) == signing_key().public_raw
    assert refused.status_code == 403
