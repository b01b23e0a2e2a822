"""Disposition: two people, after the window, through the guard; a tombstone stays."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, transaction
from django.urls import reverse

from archive.errors import ArchiveError
from archive.models import Asset, AuditEvent
from dedup.models import Fingerprint
from retention.models import DispositionRequest, PendingMove, QuarantineRecord
from retention.moves import moves_resume
from retention.policies import policy_change, policy_create
from retention.purge import (
    disposition_execute,
    disposition_request_approve,
    disposition_request_create,
)
from tests.retention.conftest import exists, hold, stored_sha, window_closed

pytestmark = pytest.mark.django_db


def execute(request, actor, callbacks):
    with callbacks(execute=True):
        return disposition_execute(request=request, actor=actor)


class TestDispositionRequests:
    def test_the_requester_cannot_approve_their_own_request(self, replaced, approver):
        request = disposition_request_create(assets=[replaced], reason="dup", actor=approver)

        with pytest.raises(ArchiveError, match="second person"):
            disposition_request_approve(request=request, actor=approver)

        assert DispositionRequest.objects.get().approved_at is None

    def test_approval_needs_the_permission(self, replaced, requester, user):
        request = disposition_request_create(assets=[replaced], reason="dup", actor=requester)

        with pytest.raises(ArchiveError, match="permission"):
            disposition_request_approve(request=request, actor=user)

    def test_only_quarantined_assets_can_be_requested(self, asset, requester):
        with pytest.raises(ArchiveError, match="not in quarantine"):
            disposition_request_create(assets=[asset], reason="dup", actor=requester)

    def test_an_asset_sits_in_one_open_request_at_a_time(self, replaced, requester):
        disposition_request_create(assets=[replaced], reason="dup", actor=requester)

        with pytest.raises(ArchiveError, match="already in disposition request"):
            disposition_request_create(assets=[replaced], reason="dup", actor=requester)


class TestRequesterIsNotApproverConstraint:
    def test_full_clean_refuses_the_same_person(self, requester):
        request = DispositionRequest(reason="r", requested_by=requester, approved_by=requester)
        request.approved_at = request.requested_at

        with pytest.raises(ValidationError, match="disposition_requester_is_not_approver"):
            request.full_clean()

    def test_the_database_refuses_the_same_person(self, requester):
        with pytest.raises(IntegrityError), transaction.atomic():
            request = DispositionRequest(reason="r", requested_by=requester)
            DispositionRequest.objects.create(
                reason="r",
                requested_by=requester,
                approved_by=requester,
                approved_at=request.requested_at,
                requested_at=request.requested_at,
            )


class TestDispositionExecute:
    def test_an_approved_purge_after_the_window_keeps_a_tombstone(
        self, approved, replaced, approver, django_capture_on_commit_callbacks
    ):
        key = replaced.storage_key

        outcomes = execute(approved, approver, django_capture_on_commit_callbacks)

        assert outcomes == {replaced.pk: "purged"}
        replaced.refresh_from_db()
        assert (replaced.state, replaced.storage_key) == (Asset.State.PURGED, "")
        assert not exists("quarantine", key)
        assert Fingerprint.objects.filter(asset=replaced).exists()
        assert QuarantineRecord.objects.get(asset=replaced).purged_at is not None
        approved.refresh_from_db()
        assert approved.executed_at is not None
        event = AuditEvent.objects.get(verb="asset.purged")
        assert event.after["sha256"] == replaced.sha256

    def test_executing_again_changes_nothing(
        self, approved, replaced, approver, django_capture_on_commit_callbacks
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)

        assert execute(approved, approver, django_capture_on_commit_callbacks) == {
            replaced.pk: "already executed"
        }
        assert AuditEvent.objects.filter(verb="asset.purged").count() == 1

    def test_nothing_is_purged_before_the_window_closes(
        self, replaced, requester, approver, django_capture_on_commit_callbacks
    ):
        request = disposition_request_create(assets=[replaced], reason="dup", actor=requester)
        disposition_request_approve(request=request, actor=approver)

        outcomes = execute(request, approver, django_capture_on_commit_callbacks)

        assert "restore window open" in outcomes[replaced.pk]
        assert stored_sha(replaced) == replaced.sha256

    def test_the_database_refuses_a_purge_before_the_deadline(self, replaced):
        record = QuarantineRecord.objects.get(asset=replaced)

        with pytest.raises(IntegrityError), transaction.atomic():
            QuarantineRecord.objects.filter(pk=record.pk).update(purged_at=record.quarantined_at)

    def test_an_unapproved_request_is_refused(self, replaced, requester, approver):
        request = disposition_request_create(assets=[replaced], reason="dup", actor=requester)
        window_closed(replaced)

        with pytest.raises(ArchiveError, match="not approved"):
            disposition_execute(request=request, actor=approver)

    def test_a_hold_placed_after_approval_wins(
        self, approved, replaced, approver, django_capture_on_commit_callbacks
    ):
        hold(replaced, "CASE-9")

        outcomes = execute(approved, approver, django_capture_on_commit_callbacks)

        assert "CASE-9" in outcomes[replaced.pk]
        assert stored_sha(replaced) == replaced.sha256
        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1
        assert "CASE-9" in approved.items.get().outcome

    def test_published_bytes_are_never_purged(
        self,
        collection,
        other_asset,
        user,
        requester,
        approver,
        django_capture_on_commit_callbacks,
    ):
        from dedup.consolidation import consolidation_execute
        from tests.archive.helpers import ingest_bytes
        from tests.conftest import image_bytes, make_image

        published = ingest_bytes(
            image_bytes(make_image("navy")), collection=collection, path="p.jpg", published=True
        ).asset
        with django_capture_on_commit_callbacks(execute=True):
            consolidation_execute(
                canonical=other_asset, replaced=[published], candidates=[], actor=user
            )
        # Even with every keep-forever policy switched off, the invariant holds.
        for key in ("published-keep-forever", "originals-keep-forever"):
            policy = policy_current(key)
            policy_change(policy=policy, actor=None, keep_forever=False)
        request = disposition_request_create(assets=[published], reason="dup", actor=requester)
        disposition_request_approve(request=request, actor=approver)
        window_closed(published)

        outcomes = execute(request, approver, django_capture_on_commit_callbacks)

        assert "published" in outcomes[published.pk]
        assert stored_sha(published) == published.sha256

    def test_executing_needs_the_permission(self, approved, user):
        with pytest.raises(ArchiveError, match="permission"):
            disposition_execute(request=approved, actor=user)


def policy_current(key):
    from retention.models import RetentionPolicy

    return RetentionPolicy.objects.get(key=key, is_current=True)


class Crash(Exception):
    pass


def crash(*args, **kwargs):
    raise Crash


class TestPurgeCrashes:
    def test_a_crash_before_commit_leaves_the_asset_quarantined(
        self, approved, replaced, approver, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr("archive.lifecycle.audit_record", crash)

        with pytest.raises(Crash):
            execute(approved, approver, django_capture_on_commit_callbacks)

        replaced.refresh_from_db()
        assert replaced.state == Asset.State.QUARANTINED
        assert stored_sha(replaced) == replaced.sha256
        assert approved.items.get().executed_at is None
        monkeypatch.undo()
        assert execute(approved, approver, django_capture_on_commit_callbacks) == {
            replaced.pk: "purged"
        }

    @pytest.mark.parametrize("point", ["before the deletion", "during the deletion"])
    def test_a_crash_after_commit_is_finished_by_resume(
        self,
        point,
        approved,
        replaced,
        approver,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ):
        key = replaced.storage_key
        if point == "before the deletion":
            monkeypatch.setattr("retention.moves.move_source_delete", crash)
        else:
            monkeypatch.setattr(FileSystemStorage, "delete", crash)

        execute(approved, approver, django_capture_on_commit_callbacks)

        replaced.refresh_from_db()
        assert replaced.state == Asset.State.PURGED
        assert exists("quarantine", key)  # not yet deleted: the deletion is pending
        deletion = PendingMove.objects.get(kind=PendingMove.Kind.PURGE)
        assert deletion.step == PendingMove.Step.SWITCHED
        monkeypatch.undo()

        with django_capture_on_commit_callbacks(execute=True):
            assert moves_resume() == {"deleted": 1}

        assert not exists("quarantine", key)
        deletion.refresh_from_db()
        assert deletion.step == PendingMove.Step.DONE


class TestPurgedLinks:
    def test_a_purged_replaced_asset_answers_with_its_canonical(
        self,
        approved,
        replaced,
        other_asset,
        approver,
        staff,
        client,
        django_capture_on_commit_callbacks,
    ):
        execute(approved, approver, django_capture_on_commit_callbacks)
        client.force_login(staff)

        response = client.get(reverse("archive:asset-file", args=[replaced.pk]))

        assert response.status_code == 302
        assert response["Location"] == reverse("archive:asset-file", args=[other_asset.pk])

    def test_a_purged_asset_answers_410_with_the_reason(
        self,
        asset,
        collection,
        user,
        requester,
        approver,
        staff,
        client,
        django_capture_on_commit_callbacks,
    ):
        from retention.services import asset_quarantine

        policy_change(
            policy=policy_current("originals-keep-forever"), actor=None, keep_forever=False
        )
        policy_create(
            key="field-photos",
            actor=None,
            name="Field photos: purge",
            collection=collection,
            purge_after_window=True,
        )
        with django_capture_on_commit_callbacks(execute=True):
            asset_quarantine(asset=asset, reason="blurred", actor=user)
        request = disposition_request_create(
            assets=[asset], reason="out of focus, no value", actor=requester
        )
        disposition_request_approve(request=request, actor=approver)
        window_closed(asset)
        execute(request, approver, django_capture_on_commit_callbacks)
        client.force_login(staff)

        response = client.get(reverse("archive:asset-file", args=[asset.pk]))

        assert response.status_code == 410
        assert "out of focus, no value" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_real_commits_delete_bytes_only_after_commit_and_holds_win(
    collection, user, requester, approver
):
    """Outside any test transaction: on-commit deletions and rollbacks really happen."""
    from dedup.consolidation import consolidation_execute
    from tests.archive.helpers import ingest_picture

    keep = ingest_picture(collection=collection, colour="gold").asset
    drop = ingest_picture(collection=collection, colour="silver").asset
    hot_key = drop.storage_key
    consolidation_execute(canonical=keep, replaced=[drop], candidates=[], actor=user)
    assert not exists("hot", hot_key) and stored_sha(drop) == drop.sha256
    request = disposition_request_create(assets=[drop], reason="dup", actor=requester)
    disposition_request_approve(request=request, actor=approver)
    window_closed(drop)
    held = hold(drop, "REAL-1")

    assert "REAL-1" in disposition_execute(request=request, actor=approver)[drop.pk]
    assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1
    from archive.holds import legal_hold_release

    legal_hold_release(hold=held, reason="settled", actor=held.placed_by)
    assert disposition_execute(request=request, actor=approver) == {drop.pk: "purged"}
    assert not exists("quarantine", drop.storage_key or hot_key)
    assert PendingMove.objects.get(kind="purge").step == PendingMove.Step.DONE
