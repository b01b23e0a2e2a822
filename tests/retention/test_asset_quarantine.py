"""Quarantine moves the bytes to the quarantine tier; restore brings back the same SHA-256."""

from datetime import timedelta

import pytest
from django.utils import timezone

from archive.errors import ArchiveError
from archive.holds import LegalHoldRefused, legal_hold_release
from archive.models import Asset, AuditEvent
from retention.models import PendingMove, QuarantineRecord
from retention.moves import asset_move, moves_resume
from retention.services import asset_quarantine, asset_restore, quarantine_deadlines_remind
from tests.retention.conftest import exists, hold, stored_sha

pytestmark = pytest.mark.django_db


class TestAssetQuarantine:
    def test_the_bytes_move_to_the_quarantine_tier_with_a_deadline(self, quarantined):
        record = QuarantineRecord.objects.get(asset=quarantined)

        assert quarantined.state == Asset.State.QUARANTINED
        assert quarantined.storage_alias == "quarantine"
        assert stored_sha(quarantined) == quarantined.sha256
        assert not exists("hot", quarantined.storage_key)
        assert record.previous_alias == "hot"
        window = record.restore_deadline - record.quarantined_at
        assert window == timedelta(days=30)

    def test_a_replaced_duplicate_gets_its_policys_window(
        self, asset, other_asset, user, django_capture_on_commit_callbacks
    ):
        from dedup.consolidation import consolidation_execute
        from retention.models import RetentionPolicy
        from retention.policies import policy_change

        policy = RetentionPolicy.objects.get(key="replaced-duplicates", is_current=True)
        policy_change(policy=policy, actor=None, quarantine_window_days=45)
        with django_capture_on_commit_callbacks(execute=True):
            consolidation_execute(
                canonical=other_asset, replaced=[asset], candidates=[], actor=user
            )

        record = QuarantineRecord.objects.get(asset=asset)
        assert record.restore_deadline - record.quarantined_at == timedelta(days=45)

    def test_a_restore_ends_the_replacement_and_its_window(
        self, replaced, user, django_capture_on_commit_callbacks
    ):
        """Restored, the asset is no duplicate any more: a new quarantine gets the default."""
        with django_capture_on_commit_callbacks(execute=True):
            asset_restore(asset=replaced, actor=user)
        replaced.refresh_from_db()
        assert replaced.replaced_by_id is None
        asset_quarantine(asset=replaced, reason="again", actor=user)

        newest = QuarantineRecord.objects.get(asset=replaced, restored_at=None)
        assert newest.restore_deadline - newest.quarantined_at == timedelta(days=30)

    def test_a_held_asset_is_never_quarantined(self, asset, user):
        hold(asset)

        with pytest.raises(LegalHoldRefused):
            asset_quarantine(asset=asset, reason="r", actor=user)

        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, "hot")
        assert not QuarantineRecord.objects.exists()
        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1

    def test_quarantining_twice_is_refused(self, quarantined, user):
        with pytest.raises(ArchiveError, match="not active"):
            asset_quarantine(asset=quarantined, reason="again", actor=user)

    def test_a_crash_inside_the_switch_loses_nothing_and_resumes(
        self, asset, user, monkeypatch, django_capture_on_commit_callbacks
    ):
        """Two-phase: the copy is recorded, the switch rolls back, a resumer finishes it."""
        monkeypatch.setattr("archive.lifecycle.audit_record", lambda **kw: 1 / 0)

        with pytest.raises(ZeroDivisionError):
            asset_quarantine(asset=asset, reason="r", actor=user)
        monkeypatch.undo()

        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, "hot")
        assert stored_sha(asset) == asset.sha256
        assert not QuarantineRecord.objects.exists()
        assert PendingMove.objects.get().step == PendingMove.Step.COPIED
        PendingMove.objects.update(claimed_until=None)
        with django_capture_on_commit_callbacks(execute=True):
            assert moves_resume() == {"deleted": 1}
        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.QUARANTINED, "quarantine")
        assert QuarantineRecord.objects.get(asset=asset).reason == "r"


class TestAssetRestore:
    def test_restore_gives_back_the_same_bytes_tier_and_state(
        self, quarantined, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            asset_restore(asset=quarantined, actor=user, reason="mistake")

        quarantined.refresh_from_db()
        assert (quarantined.state, quarantined.storage_alias) == (Asset.State.ACTIVE, "hot")
        assert stored_sha(quarantined) == quarantined.sha256
        assert not exists("quarantine", quarantined.storage_key)
        assert QuarantineRecord.objects.get().restored_by == user

    def test_a_cold_asset_returns_to_cold(
        self, asset, operator, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            asset_move(asset=asset, to_alias="cold", actor=operator)
            asset_quarantine(asset=asset, reason="r", actor=user)
            asset_restore(asset=asset, actor=user)

        asset.refresh_from_db()
        assert (asset.storage_alias, stored_sha(asset)) == ("cold", asset.sha256)

    def test_restore_within_one_transaction_keeps_the_source(self, asset, user):
        """Quarantine then restore before commit: the pending deletion must not fire."""
        asset_quarantine(asset=asset, reason="r", actor=user)
        asset_restore(asset=asset, actor=user)

        from retention.moves import move_source_delete

        for move in PendingMove.objects.order_by("pk"):
            move_source_delete(move.pk)
        assert stored_sha(asset) == asset.sha256
        assert asset.storage_alias == "hot"

    def test_a_held_asset_is_restored_in_place(
        self, quarantined, user, django_capture_on_commit_callbacks
    ):
        held = hold(quarantined)

        with django_capture_on_commit_callbacks(execute=True):
            asset_restore(asset=quarantined, actor=user)

        quarantined.refresh_from_db()
        # Back in use, but never moved while held: the bytes stay where they are.
        assert quarantined.state == Asset.State.ACTIVE
        assert (quarantined.storage_alias, stored_sha(quarantined)) == (
            "quarantine",
            quarantined.sha256,
        )
        legal_hold_release(hold=held, reason="done", actor=held.placed_by)

    def test_restoring_what_is_not_quarantined_is_refused(self, asset, user):
        with pytest.raises(ArchiveError, match="not in quarantine"):
            asset_restore(asset=asset, actor=user)


class TestDeadlineReminders:
    def test_each_deadline_is_announced_once(self, quarantined):
        QuarantineRecord.objects.update(restore_deadline=timezone.now() + timedelta(days=2))

        assert quarantine_deadlines_remind(within_days=7) == 1
        assert quarantine_deadlines_remind(within_days=7) == 0

        event = AuditEvent.objects.get(verb="quarantine.deadline_near")
        assert event.object_id == str(quarantined.pk)

    def test_distant_deadlines_wait(self, quarantined):
        assert quarantine_deadlines_remind(within_days=7) == 0
