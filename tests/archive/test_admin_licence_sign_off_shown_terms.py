"""The admin sign-off form carries the terms the page showed; changed terms are a form error."""

import re

import pytest
from django.urls import reverse

from archive.licensing import licence_conflict_unresolved, licence_terms_compare
from archive.models import Licence, LicenceSignOff
from archive.services import record_save
from tests.archive.helpers import ingest_picture
from tests.archive.people import licensing_officer

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(collection, staff):
    a = ingest_picture(collection=collection, colour="teal").asset
    b = ingest_picture(collection=collection, colour="navy").asset
    record_save(obj=Licence(entry=a.entries.get(), holder="Staff"), actor=staff)
    record_save(
        obj=Licence(entry=b.entries.get(), holder="Reuters", licence_type=Licence.Type.AGENCY),
        actor=staff,
    )
    return [a, b]


def compare_url(assets):
    return f"{reverse('admin:archive_asset_licences')}?ids={','.join(str(a.pk) for a in assets)}"


def shown_fingerprint(page: str) -> str:
    match = re.search(r'name="terms_fingerprint" value="([0-9a-f]{64})"', page)
    assert match, "the sign-off form carries the fingerprint of the terms it shows"
    return match.group(1)


@pytest.fixture
def officer_client(client):
    client.force_login(licensing_officer())
    return client


def test_the_form_carries_the_fingerprint_of_the_terms_on_the_page(officer_client, pair):
    page = officer_client.get(compare_url(pair)).content.decode()

    assert shown_fingerprint(page) == licence_terms_compare(assets=pair).terms_fingerprint


def test_terms_changed_while_the_page_was_open_are_refused_then_can_be_signed_again(
    officer_client, pair, staff
):
    shown = shown_fingerprint(officer_client.get(compare_url(pair)).content.decode())
    changed = pair[1].entries.get().licences.get()
    changed.territory = "Europe only"
    record_save(obj=changed, actor=staff)

    refused = officer_client.post(
        compare_url(pair), {"reason": "read it", "terms_fingerprint": shown}
    )

    assert refused.status_code == 200
    page = refused.content.decode()
    assert "changed after they were shown to you" in page
    assert "Europe only" in page  # the page now shows the terms as they are
    assert not LicenceSignOff.objects.exists()
    now_shown = shown_fingerprint(page)
    assert now_shown != shown

    accepted = officer_client.post(
        compare_url(pair), {"reason": "read it", "terms_fingerprint": now_shown}
    )
    assert accepted.status_code == 302
    assert LicenceSignOff.objects.get().terms_fingerprint == now_shown
    assert licence_conflict_unresolved(assets=pair) is False


def test_a_change_that_ends_the_conflict_is_reported_not_hidden(officer_client, pair, staff):
    shown = shown_fingerprint(officer_client.get(compare_url(pair)).content.decode())
    first, other = (asset.entries.get().licences.get() for asset in pair)
    other.holder, other.licence_type = first.holder, first.licence_type
    record_save(obj=other, actor=staff)

    response = officer_client.post(compare_url(pair), {"reason": "ok", "terms_fingerprint": shown})

    assert response.status_code == 200
    page = response.content.decode()
    assert "changed after they were shown to you" in page
    assert "No licence conflict" in page
    assert not LicenceSignOff.objects.exists()


def test_a_post_without_the_fingerprint_is_a_form_error(officer_client, pair):
    response = officer_client.post(compare_url(pair), {"reason": "ok"})

    assert response.status_code == 200
    assert "names the terms shown" in response.content.decode()
    assert not LicenceSignOff.objects.exists()
