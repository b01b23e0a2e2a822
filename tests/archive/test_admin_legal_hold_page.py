"""The legal hold pages: the collections picker lists collections, and a hold's page shows
every asset it freezes, with thumbnails, a page at a time."""

import math
import re

import pytest
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import admin_views
from archive.holds import legal_hold_place
from archive.selectors import legal_hold_assets
from archive.services import collection_get_or_create
from tests.archive.helpers import ingest_bytes
from tests.archive.people import compliance_officer
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client):
    officer = compliance_officer()
    client.force_login(officer)
    return officer


def test_the_collections_picker_lists_every_collection(client, officer):
    names = ["Photo desk", "Building & Safety permits", "CARE+ field photos"]
    collections = [collection_get_or_create(name=name) for name in names]

    html = client.get(reverse("admin:archive_legalhold_add")).content.decode()

    picker = re.search(r'<select name="collections".*?</select>', html, re.S).group(0)
    listed = re.findall(r'<option value="(\d+)">([^<]+)</option>', picker)
    assert sorted(listed) == sorted((str(c.pk), escape(str(c))) for c in collections)


@pytest.fixture
def held_collection(officer, collection):
    for seed in range(7):
        ingest_bytes(image_bytes(make_scene(900 + seed)), collection=collection, path=f"{seed}.jpg")
    return legal_hold_place(
        matter_reference="CASE-12", reason="preserve", collections=[collection], actor=officer
    )


def _page_ids(html: str) -> list[int]:
    section = html.split('id="frozen-assets"', 1)[1]
    return [int(pk) for pk in re.findall(r"/admin/archive/asset/(\d+)/change/", section)]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=9))
def test_the_hold_page_lists_every_frozen_asset_once_across_its_pages(
    client, held_collection, monkeypatch, size
):
    monkeypatch.setattr(admin_views, "FROZEN_PAGE_SIZE", size)
    url = reverse("admin:archive_legalhold_change", args=[held_collection.pk])
    frozen = sorted(legal_hold_assets(hold=held_collection).values_list("pk", flat=True))
    pages = math.ceil(len(frozen) / size)

    seen = []
    for number in range(1, pages + 1):
        html = client.get(url, {"page": number}).content.decode()
        ids = _page_ids(html)
        assert len(ids) == min(size, len(frozen) - size * (number - 1))
        assert html.count('class="keepsake-tile"') == len(ids)
        assert all(f"/assets/{pk}/thumb.jpg" in html for pk in ids)
        seen += ids

    assert len(frozen) == 7
    assert seen == frozen
    assert f"Frozen by this hold: {len(frozen)} assets" in html
