"""The licensing view in the admin: licences side by side, flags, sign-off with a reason."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from archive.licensing import licence_conflict_unresolved, licence_terms_compare
from archive.models import Licence, LicenceSignOff
from archive.services import record_save
from tests.archive.helpers import ingest_picture
from tests.archive.people import licensing_officer, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(collection):
    a = ingest_picture(collection=collection, colour="teal").asset
    b = ingest_picture(collection=collection, colour="navy").asset
    record_save(obj=Licence(entry=a.entries.get(), holder="Staff"), actor=None)
    record_save(
        obj=Licence(
            entry=b.entries.get(),
            holder="Reuters",
            licence_type=Licence.Type.AGENCY,
            restrictions="no advertising",
        ),
        actor=None,
    )
    return [a, b]


def compare_url(assets):
    ids = ",".join(str(a.pk) for a in assets)
    return f"{reverse('admin:archive_asset_licences')}?ids={ids}"


def test_the_asset_action_opens_the_comparison(client, pair):
    client.force_login(licensing_officer())

    response = client.post(
        reverse("admin:archive_asset_changelist"),
        {"action": "compare_licences", ACTION_CHECKBOX_NAME: [a.pk for a in pair]},
    )

    assert response.status_code == 302
    assert response["Location"] == compare_url(sorted(pair, key=lambda a: a.pk))


def test_the_comparison_shows_every_licence_and_the_conflict(client, pair):
    client.force_login(licensing_officer())

    page = client.get(compare_url(pair)).content.decode()

    assert "Staff" in page and "Reuters" in page
    assert "Licence conflict: the terms differ (licence_type, holder, restrictions)" in page
    assert "restricted" in page
    assert 'name="reason"' in page


def test_signing_off_in_the_admin(client, pair):
    officer = licensing_officer()
    client.force_login(officer)

    blank = client.post(compare_url(pair), {"reason": ""})
    assert blank.status_code == 200 and not LicenceSignOff.objects.exists()

    shown = licence_terms_compare(assets=pair).terms_fingerprint
    response = client.post(
        compare_url(pair),
        {"reason": "covered by the 2019 agreement", "terms_fingerprint": shown},
    )

    assert response.status_code == 302
    assert LicenceSignOff.objects.get().signed_by == officer
    assert licence_conflict_unresolved(assets=pair) is False
    page = client.get(compare_url(pair)).content.decode()
    assert "Licence conflict signed off by rights" in page
    assert 'name="reason"' not in page


def test_viewing_is_not_signing_off(client, pair):
    client.force_login(person("viewer", "archive.view_licence", "archive.view_asset"))

    page = client.get(compare_url(pair))
    post = client.post(compare_url(pair), {"reason": "I say so"})

    assert page.status_code == 200 and 'name="reason"' not in page.content.decode()
    assert post.status_code == 403
    assert not LicenceSignOff.objects.exists()


def test_entries_list_their_licences(client, staff, pair):
    client.force_login(staff)
    entry = pair[1].entries.get()

    listing = client.get(reverse("admin:archive_catalogueentry_changelist"))
    change = client.get(reverse("admin:archive_catalogueentry_change", args=[entry.pk]))

    assert listing.status_code == 200
    assert "Reuters" in change.content.decode()
