"""The API's destructive endpoints go through the same services and guard."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from archive.models import Asset
from retention.models import DispositionRequest
from tests.retention.conftest import hold, stored_sha, window_closed

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_requester_cannot_approve_through_the_api(replaced, approver):
    filed = api(approver).post(
        reverse("api:disposition-list"), {"assets": [replaced.pk], "reason": "dup"}, format="json"
    )
    assert filed.status_code == 201, filed.content

    response = api(approver).post(reverse("api:disposition-approve", args=[filed.data["id"]]))

    assert response.status_code == 409
    assert DispositionRequest.objects.get().approved_at is None


def test_executing_through_the_api_never_purges_a_held_asset(
    approved, replaced, approver, django_capture_on_commit_callbacks
):
    hold(replaced, "API-1")

    with django_capture_on_commit_callbacks(execute=True):
        response = api(approver).post(reverse("api:disposition-execute", args=[approved.pk]))

    assert response.status_code == 200
    assert "API-1" in response.data["items"][0]["outcome"]
    assert Asset.objects.get(pk=replaced.pk).state == Asset.State.QUARANTINED
    assert stored_sha(replaced) == replaced.sha256


def test_an_approved_purge_after_the_window_runs_through_the_api(
    replaced, requester, approver, django_capture_on_commit_callbacks
):
    filed = api(requester).post(
        reverse("api:disposition-list"), {"assets": [replaced.pk], "reason": "dup"}, format="json"
    )
    api(approver).post(reverse("api:disposition-approve", args=[filed.data["id"]]))
    window_closed(replaced)

    with django_capture_on_commit_callbacks(execute=True):
        response = api(approver).post(reverse("api:disposition-execute", args=[filed.data["id"]]))

    assert response.data["status"] == "executed"
    assert Asset.objects.get(pk=replaced.pk).state == Asset.State.PURGED
