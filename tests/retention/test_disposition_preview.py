"""Dispositions show their blockers when requested and approved: the preview asks the
guard's own checks, so what it shows is what the execution meets."""

import itertools

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.errors import ArchiveError
from archive.holds import legal_hold_place
from archive.models import Asset
from dedup.consolidation import consolidation_execute
from retention.guard import AWAITED, disposition_blockers, purge_preview
from retention.purge import (
    disposition_execute,
    disposition_request_approve,
    disposition_request_create,
)
from tests.archive.helpers import ingest_bytes
from tests.archive.people import compliance_officer
from tests.conftest import image_bytes, make_scene
from tests.retention.conftest import window_closed

pytestmark = pytest.mark.django_db

SEEDS = itertools.count(7000)


@pytest.fixture
def officer(db):
    return compliance_officer()


def replaced_pair(collection, user, *, published: bool):
    """Two copies of one scene, the smaller consolidated into the larger and quarantined."""
    scene = make_scene(next(SEEDS))
    big = ingest_bytes(image_bytes(scene, quality=95), collection=collection, path="big.jpg")
    small = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=70),
        collection=collection,
        path="small.jpg",
        published=published,
    )
    consolidation_execute(canonical=big.asset, replaced=[small.asset], candidates=[], actor=user)
    return Asset.objects.get(pk=small.asset.pk)


def test_a_request_needs_a_reason(collection, user, requester):
    replaced = replaced_pair(collection, user, published=False)
    with pytest.raises(ArchiveError, match="Say why"):
        disposition_request_create(assets=[replaced], reason="  ", actor=requester)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    held=st.booleans(),
    published=st.booleans(),
    approved=st.booleans(),
    closed=st.booleans(),
)
def test_the_preview_is_the_guard_and_foretells_the_execution(
    collection,
    user,
    requester,
    approver,
    officer,
    django_capture_on_commit_callbacks,
    held,
    published,
    approved,
    closed,
):
    with django_capture_on_commit_callbacks(execute=True):
        replaced = replaced_pair(collection, user, published=published)
    if held:
        legal_hold_place(
            matter_reference="CASE-9", reason="litigation", assets=[replaced], actor=officer
        )
    request = disposition_request_create(assets=[replaced], reason="duplicate", actor=requester)
    if approved:
        disposition_request_approve(request=request, actor=approver)
    if closed:
        window_closed(replaced)

    [preview] = purge_preview(assets=[replaced])

    # One guard: the preview is the guard's list, split, nothing added or dropped.
    guard = disposition_blockers(asset=replaced, action="purge")
    assert preview.standing + preview.awaited == [b for b in guard if b.code not in AWAITED] + [
        b for b in guard if b.code in AWAITED
    ]
    standing = {b.code for b in preview.standing}
    awaited = {b.code for b in preview.awaited}
    assert ("legal_hold" in standing) is held
    assert ("published_last_copy" in standing) is published
    assert ("approval_missing" in awaited) is not approved
    assert ("restore_window_open" in awaited) is not closed
    assert preview.clear is not (held or published)

    if approved:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = disposition_execute(request=request, actor=approver)[replaced.pk]
        purged = Asset.objects.get(pk=replaced.pk).state == Asset.State.PURGED
        assert purged is (preview.clear and not preview.awaited), outcome
        if not purged:
            assert any(b.message in outcome for b in preview.standing + preview.awaited) or (
                held and "CASE-9" in outcome
            )


def test_the_request_and_approval_pages_show_the_blockers(
    client, collection, user, requester, approver
):
    replaced = replaced_pair(collection, user, published=True)
    record = replaced.quarantines.get()
    client.force_login(requester)
    changelist = reverse("admin:retention_quarantinerecord_changelist")
    selected = {"action": "request_disposition", "_selected_action": [record.pk]}

    asked = client.post(changelist, selected).content.decode()
    refused = client.post(changelist, {**selected, "apply": "1", "reason": ""}).content.decode()
    filed = client.post(changelist, {**selected, "apply": "1", "reason": "survey copy"})

    for page in (asked, refused):
        assert 'data-code="published_last_copy"' in page
        assert 'data-code="restore_window_open"' in page
        assert "1 of 1 asset cannot be purged as things stand" in page
    assert "This field is required" in refused
    assert filed.status_code == 302
    request = replaced.disposition_items.get().request
    assert request.reason == "survey copy"

    client.force_login(approver)
    approve_url = reverse("admin:retention_dispositionrequest_approve", args=[request.pk])
    change = client.get(reverse("admin:retention_dispositionrequest_change", args=[request.pk]))
    page = client.get(approve_url).content.decode()
    for html in (change.content.decode(), page):
        assert 'data-code="published_last_copy"' in html
        assert 'data-code="approval_missing"' in html
    assert approve_url in change.content.decode()
    assert client.post(approve_url, {"reason": "checked"}).status_code == 302
    request.refresh_from_db()
    assert request.approved_by == approver


def test_the_api_shows_each_open_items_blockers(collection, user, requester):
    from rest_framework.test import APIClient

    replaced = replaced_pair(collection, user, published=True)
    api = APIClient()
    api.force_authenticate(requester)

    filed = api.post(
        "/api/v1/dispositions/", {"assets": [replaced.pk], "reason": "copy"}, format="json"
    )

    assert filed.status_code == 201, filed.json()
    [item] = filed.json()["items"]
    [preview] = purge_preview(assets=[replaced])
    assert item["blockers"] == {
        "standing": [{"code": b.code, "message": b.message} for b in preview.standing],
        "awaited": [{"code": b.code, "message": b.message} for b in preview.awaited],
    }
    assert "published_last_copy" in [b["code"] for b in item["blockers"]["standing"]]
