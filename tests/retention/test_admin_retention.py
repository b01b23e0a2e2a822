"""The retention admin: every action goes through the services and the guard."""

import pytest
from django.urls import reverse

from archive.models import Asset
from retention.models import DispositionRequest, PendingMove, RetentionPolicy
from retention.moves import asset_move
from tests.archive.people import person
from tests.retention.conftest import hold, stored_sha, window_closed

pytestmark = pytest.mark.django_db


def act(client, user, changelist, action, ids, **form):
    client.force_login(user)
    data = {"action": action, "_selected_action": ids, **form}
    response = client.post(reverse(changelist), data, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def request_purge(client, user, ids, reason="duplicate of the survey copy"):
    """The request action with its confirmation page answered (a reason given)."""
    return act(client, user, QUARANTINE, "request_disposition", ids, apply="1", reason=reason)


def approve(client, user, ids):
    return act(client, user, REQUESTS, "approve", ids, apply="1", reason="")


QUARANTINE = "admin:retention_quarantinerecord_changelist"
REQUESTS = "admin:retention_dispositionrequest_changelist"


class TestQuarantineAdmin:
    def test_the_list_shows_deadlines_and_restores(
        self, quarantined, requester, client, django_capture_on_commit_callbacks
    ):
        record = quarantined.quarantines.get()
        client.force_login(requester)
        page = client.get(reverse(QUARANTINE) + "?status=open").content.decode()
        assert "days left" in page

        with django_capture_on_commit_callbacks(execute=True):
            messages = act(client, requester, QUARANTINE, "restore", [record.pk])

        assert messages == [f"{quarantined}: restored"]
        quarantined.refresh_from_db()
        assert (quarantined.state, stored_sha(quarantined)) == ("active", quarantined.sha256)

    def test_restoring_needs_the_permission(self, quarantined, client):
        viewer = person("viewer", "retention.view_quarantinerecord")
        client.force_login(viewer)

        page = client.get(reverse(QUARANTINE)).content.decode()

        assert 'value="restore"' not in page


class TestDispositionAdmin:
    def test_request_then_a_second_person_approves_then_execute(
        self, replaced, requester, approver, client, django_capture_on_commit_callbacks
    ):
        record = replaced.quarantines.get()
        messages = request_purge(client, requester, [record.pk])
        assert "a second person must approve it" in messages[0]
        request = DispositionRequest.objects.get()

        own = approve(client, approver, [request.pk])
        assert own == [f"Request {request.pk}: approved"]
        window_closed(replaced)
        with django_capture_on_commit_callbacks(execute=True):
            done = act(client, approver, REQUESTS, "execute", [request.pk])

        assert done == [f"Request {request.pk}: asset {replaced.pk}: purged"]
        assert Asset.objects.get(pk=replaced.pk).state == Asset.State.PURGED

    def test_the_requester_cannot_approve_in_the_admin(self, replaced, approver, client):
        record = replaced.quarantines.get()
        request_purge(client, approver, [record.pk])
        request = DispositionRequest.objects.get()

        messages = approve(client, approver, [request.pk])

        assert "second person" in messages[0]
        assert DispositionRequest.objects.get().approved_at is None

    def test_the_execute_action_never_purges_a_held_asset(
        self, approved, replaced, approver, client, django_capture_on_commit_callbacks
    ):
        hold(replaced, "CASE-77")

        with django_capture_on_commit_callbacks(execute=True):
            messages = act(client, approver, REQUESTS, "execute", [approved.pk])

        assert "CASE-77" in messages[0]
        assert stored_sha(replaced) == replaced.sha256


class TestPolicyAdmin:
    def test_editing_a_policy_writes_a_new_version(self, client):
        operator = person(
            "op", "retention.view_retentionpolicy", "retention.change_retentionpolicy"
        )
        policy = RetentionPolicy.objects.get(key="replaced-duplicates", is_current=True)
        client.force_login(operator)
        url = reverse("admin:retention_retentionpolicy_change", args=[policy.pk])
        data = {
            "name": policy.name,
            "role": "",
            "published": "unknown",
            "replaced": "true",
            "collection": "",
            "cold_after_days": "",
            "quarantine_window_days": "60",
            "purge_after_window": "on",
            "reason": "longer window",
        }

        response = client.post(url, data)

        assert response.status_code == 302, response.context["adminform"].form.errors
        versions = RetentionPolicy.objects.filter(key="replaced-duplicates").order_by("version")
        assert [(p.version, p.quarantine_window_days, p.is_current) for p in versions] == [
            (1, 30, False),
            (2, 60, True),
        ]
        old = client.get(url).content.decode()
        assert 'name="quarantine_window_days"' not in old  # old versions are read-only


class TestDashboard:
    def test_it_shows_bytes_per_tier_recovered_bytes_and_cost(
        self,
        approved,
        replaced,
        other_asset,
        approver,
        operator,
        client,
        django_capture_on_commit_callbacks,
    ):
        from retention.purge import disposition_execute

        with django_capture_on_commit_callbacks(execute=True):
            disposition_execute(request=approved, actor=approver)
            asset_move(asset=other_asset, to_alias="cold", actor=operator)
        client.force_login(operator)

        response = client.get(reverse("admin:retention_dashboard"))

        data = response.context["data"]
        tiers = {t["tier"]: t for t in data["tiers"]}
        assert (tiers["cold"]["count"], tiers["hot"]["count"]) == (1, 0)
        assert tiers["cold"]["bytes"] == other_asset.size
        assert data["recovered_bytes"] == replaced.size and data["purged_count"] == 1
        assert data["collections"][0]["count"] == 1
        assert 'class="ks-bar ks-cold"' in response.content.decode()

    def test_it_needs_the_permission_and_is_linked_from_the_app_index(self, operator, user, client):
        user.is_staff = True
        user.save()
        client.force_login(user)
        assert client.get(reverse("admin:retention_dashboard")).status_code == 403

        client.force_login(operator)
        index = client.get(reverse("admin:app_list", args=["retention"]))
        assert reverse("admin:retention_dashboard") in index.content.decode()


class TestPendingMoveAdmin:
    def test_the_resume_action_finishes_moves(
        self, asset, operator, client, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr("retention.moves.move_switch", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()
        PendingMove.objects.update(claimed_until=None)
        move = PendingMove.objects.get()
        viewer = person("mover", "retention.view_pendingmove", "retention.move_asset")

        with django_capture_on_commit_callbacks(execute=True):
            messages = act(
                client, viewer, "admin:retention_pendingmove_changelist", "resume", [move.pk]
            )

        assert "deleted" in messages[0]
        assert stored_sha(asset) == asset.sha256
