"""The legal hold admin: place through the service, release with a reason, never edit."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from archive.holds import legal_hold_place
from archive.models import AuditEvent, LegalHold
from archive.selectors import asset_is_frozen
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client):
    officer = compliance_officer()
    client.force_login(officer)
    return officer


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal").asset


@pytest.fixture
def hold(officer, asset):
    return legal_hold_place(matter_reference="M-1", reason="r", assets=[asset], actor=officer)


def test_placing_a_hold_through_the_admin_form(client, officer, asset, collection):
    url = reverse("admin:archive_legalhold_add")

    page = client.get(url, {"assets": str(asset.pk)})
    response = client.post(
        url,
        {
            "matter_reference": "M-88",
            "reason": "Preservation letter",
            "assets": str(asset.pk),
            "collections": [collection.pk],
        },
    )

    assert page.status_code == 200 and f'value="{asset.pk}"' in page.content.decode()
    hold = LegalHold.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:archive_legalhold_change", args=[hold.pk])
    assert (hold.matter_reference, hold.placed_by) == ("M-88", officer)
    assert list(hold.collections.all()) == [collection]
    assert asset_is_frozen(asset=asset) is True
    assert AuditEvent.objects.get(verb="legalhold.placed").actor == officer


def test_a_refused_placement_is_shown_on_the_form(client, officer):
    response = client.post(
        reverse("admin:archive_legalhold_add"), {"matter_reference": "M-1", "reason": "r"}
    )

    assert response.status_code == 200
    assert "needs at least one asset" in response.content.decode()
    assert not LegalHold.objects.exists()


def test_the_asset_list_action_prefills_the_hold_form(client, officer, asset):
    response = client.post(
        reverse("admin:archive_asset_changelist"),
        {"action": "place_legal_hold", ACTION_CHECKBOX_NAME: [asset.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:archive_legalhold_add')}?assets={asset.pk}"


def test_the_asset_page_names_its_holds(client, officer, hold, asset):
    response = client.get(reverse("admin:archive_asset_change", args=[asset.pk]))

    assert "M-1" in response.content.decode()


def test_release_needs_a_reason(client, officer, hold):
    url = reverse("admin:archive_legalhold_release", args=[hold.pk])
    change = client.get(reverse("admin:archive_legalhold_change", args=[hold.pk]))

    form = client.get(url)
    blank = client.post(url, {"apply": "1", "reason": ""})
    done = client.post(url, {"apply": "1", "reason": "matter closed"})

    assert url in change.content.decode()
    assert "Assets it freezes now:" in change.content.decode()
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    assert blank.status_code == 200 and "This field is required" in blank.content.decode()
    assert done.status_code == 302
    hold.refresh_from_db()
    assert (hold.is_active, hold.release_reason, hold.released_by) == (
        False,
        "matter closed",
        officer,
    )


def test_bulk_release_asks_for_the_reason_on_an_intermediate_page(client, officer, asset, hold):
    other = legal_hold_place(matter_reference="M-2", reason="r", assets=[asset], actor=officer)
    changelist = reverse("admin:archive_legalhold_changelist")
    selected = {"action": "release_holds", ACTION_CHECKBOX_NAME: [hold.pk, other.pk]}

    ask = client.post(changelist, selected)
    done = client.post(changelist, {**selected, "apply": "1", "reason": "both settled"})

    assert ask.status_code == 200 and "Release legal holds" in ask.content.decode()
    assert LegalHold.objects.filter(released_at__isnull=True).count() == 0
    assert done.status_code == 302
    assert AuditEvent.objects.filter(verb="legalhold.released").count() == 2


def test_holds_cannot_be_edited_or_deleted(client, officer, hold):
    change = client.post(
        reverse("admin:archive_legalhold_change", args=[hold.pk]),
        {"matter_reference": "changed", "reason": "changed"},
    )
    delete = client.post(reverse("admin:archive_legalhold_delete", args=[hold.pk]), {"post": "yes"})

    assert (change.status_code, delete.status_code) == (403, 403)
    hold.refresh_from_db()
    assert hold.matter_reference == "M-1"
