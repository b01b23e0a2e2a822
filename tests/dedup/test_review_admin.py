"""The review queue and compare screen in the admin, and links of replaced assets."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from archive.models import Asset
from dedup.models import DuplicateCandidate
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:dedup_duplicatecandidate_changelist")


@pytest.fixture
def archivist(client):
    user = get_user_model().objects.create_user("archivist", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "review_duplicates",
                "view_duplicatecandidate",
                "view_asset",
                "view_licence",
                "view_catalogueentry",
            ]
        )
    )
    client.force_login(user)
    return client


def make_pairs(collection, count: int):
    pairs = []
    for i in range(count):
        scene = make_scene(100 + i)
        a = ingest_bytes(image_bytes(scene, quality=95), collection=collection, path=f"{i}.jpg")
        b = ingest_bytes(
            image_bytes(scene.resize((160, 120)), quality=60),
            collection=collection,
            path=f"{i}-small.jpg",
        )
        pairs.append((a.asset, b.asset))
    return pairs


def queue_queries(client) -> int:
    from django.core.cache import cache

    cache.clear()  # count the reclaimable figure's queries too, not its cached copy
    with CaptureQueriesContext(connection) as queries:
        assert client.get(QUEUE).status_code == 200
    return len(queries)


def test_queue_shows_counts_and_needs_no_query_per_row(archivist, collection):
    make_pairs(collection, 2)
    few = queue_queries(archivist)
    make_pairs(collection, 4)

    response = archivist.get(QUEUE)

    assert queue_queries(archivist) == few
    page = response.content.decode()
    assert DuplicateCandidate.objects.count() > 2
    assert f"{DuplicateCandidate.objects.count()} open pairs" in page
    assert reverse("admin:dedup_duplicatecandidate_next") in page


def test_compare_screen_shows_both_sides_evidence_and_records(archivist, collection):
    ((big, small),) = make_pairs(collection, 1)
    candidate = DuplicateCandidate.objects.get()

    response = archivist.get(reverse("admin:dedup_duplicatecandidate_compare", args=[candidate.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    for asset in (big, small):
        assert reverse("archive:asset-rendition", args=[asset.pk, "web"]) in page
    assert "suggested canonical: highest pixel count" in page
    assert f'value="{big.pk}" checked' in page
    assert "Full evidence" in page and "0.jpg" in page and "keepsake/compare.js" in page
    # The plain summary leads; the evidence tables are grouped and hold no rows of None.
    assert "b is the same photograph, " in page and "25 % of the pixels" in page
    assert "<h3>Files</h3>" in page and ">None<" not in page


def test_a_look_alike_shows_no_suggestion_and_no_confirm_shortcut(archivist, collection):
    ((big, small),) = make_pairs(collection, 1)
    candidate = DuplicateCandidate.objects.get()
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(kind="similar")
    url = reverse("admin:dedup_duplicatecandidate_compare", args=[candidate.pk])

    page = archivist.get(url).content.decode()
    pressed = archivist.post(url, {"decision": "confirm", "canonical": big.pk})

    assert "suggested canonical:" not in page and 'value="confirm" class="default"' not in page
    assert "Override and confirm" in page and "quarantines b: #" in page
    assert pressed.status_code == 302
    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.PENDING


def test_warnings_sit_before_the_evidence(archivist, collection):
    from archive.holds import legal_hold_place
    from archive.models import Collection

    ((big, small),) = make_pairs(collection, 1)
    Collection.objects.filter(pk=collection.pk).update(reference=True)
    placer = get_user_model().objects.create_superuser("placer")
    legal_hold_place(matter_reference="M-17", reason="court order", assets=[big], actor=placer)
    candidate = DuplicateCandidate.objects.get()

    page = archivist.get(
        reverse("admin:dedup_duplicatecandidate_compare", args=[candidate.pk])
    ).content.decode()

    warnings = page.index('id="keepsake-warnings"')
    assert warnings < page.index('id="keepsake-evidence"')
    assert "under legal hold (M-17)" in page
    assert f"Collection {collection.name} is a reference collection" in page


def test_confirming_on_the_compare_screen_consolidates_and_moves_on(archivist, collection):
    (big, small), (other_big, _) = make_pairs(collection, 2)
    assert DuplicateCandidate.objects.count() == 2
    first = DuplicateCandidate.objects.get(asset_a=big)
    second = DuplicateCandidate.objects.get(asset_a=other_big)
    url = reverse("admin:dedup_duplicatecandidate_compare", args=[first.pk])

    response = archivist.post(url, {"decision": "confirm", "canonical": big.pk})

    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:dedup_duplicatecandidate_compare", args=[second.pk]
    )
    small.refresh_from_db()
    assert (small.replaced_by, small.state) == (big, Asset.State.QUARANTINED)


def test_replaced_assets_links_redirect_to_the_canonical(archivist, collection, staff):
    ((big, small),) = make_pairs(collection, 1)
    candidate = DuplicateCandidate.objects.get()
    archivist.post(
        reverse("admin:dedup_duplicatecandidate_compare", args=[candidate.pk]),
        {"decision": "confirm", "canonical": big.pk},
    )
    archivist.force_login(staff)

    file_url = archivist.get(reverse("archive:asset-file", args=[small.pk]))
    page = archivist.get(reverse("admin:archive_asset_change", args=[small.pk]))
    itself = archivist.get(reverse("admin:archive_asset_change", args=[small.pk]) + "?replaced=1")

    assert file_url.status_code == 302
    assert file_url["Location"] == reverse("archive:asset-file", args=[big.pk])
    assert page["Location"] == reverse("admin:archive_asset_change", args=[big.pk])
    assert itself.status_code == 200


def test_look_alikes_cannot_be_bulk_confirmed(archivist, collection):
    make_pairs(collection, 1)
    candidate = DuplicateCandidate.objects.get()

    archivist.post(QUEUE, {"action": "bulk_confirm", "_selected_action": [candidate.pk]})

    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.PENDING


def test_viewers_without_the_review_permission_cannot_decide(client, collection):
    make_pairs(collection, 1)
    candidate = DuplicateCandidate.objects.get()
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_duplicatecandidate"))
    client.force_login(viewer)
    url = reverse("admin:dedup_duplicatecandidate_compare", args=[candidate.pk])

    assert client.get(url).status_code == 200
    assert client.post(url, {"decision": "defer"}).status_code == 403


def test_undo_asks_for_a_reason_and_a_confirmation(archivist, collection):
    from archive.models import AuditEvent
    from dedup.models import Consolidation

    ((big, small),) = make_pairs(collection, 1)
    candidate = DuplicateCandidate.objects.get()
    archivist.post(
        reverse("admin:dedup_duplicatecandidate_compare", args=[candidate.pk]),
        {"decision": "confirm", "canonical": big.pk},
    )
    consolidation = Consolidation.objects.get()
    user = get_user_model().objects.get(username="archivist")
    user.user_permissions.add(Permission.objects.get(codename="view_consolidation"))
    url = reverse("admin:dedup_consolidation_changelist")
    selected = {"action": "undo", "_selected_action": [consolidation.pk]}

    asked = archivist.post(url, selected)
    unconfirmed = archivist.post(url, {**selected, "undo_reason": "wrong pair"})
    done = archivist.post(url, {**selected, "undo_reason": "wrong pair", "undo_confirmed": "yes"})

    assert asked.status_code == 200 and "Why is this undone?" in asked.content.decode()
    assert "tick the confirmation" in unconfirmed.content.decode()
    assert done.status_code == 302
    consolidation.refresh_from_db()
    assert consolidation.undone_at is not None
    assert AuditEvent.objects.get(verb="consolidation.undone").reason == "wrong pair"
