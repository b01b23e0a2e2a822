"""Issue 11, defect 13 (retention's part): quarantine and restore copy bytes outside any
transaction, in two short audited transactions around the copy, and `moves_resume`
finishes an interrupted one completely: state, pointer, quarantine record and audit."""

import threading

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection, connections

from archive.models import Asset, AuditEvent
from retention.models import PendingMove, QuarantineRecord
from retention.moves import moves_resume
from retention.purge import disposition_request_approve, disposition_request_create
from retention.services import asset_quarantine, asset_restore
from tests.retention.conftest import exists, hold, stored_sha, window_closed


class Crash(Exception):
    """A simulated process death."""


def crash(*args, **kwargs):
    raise Crash


def resume(callbacks):
    PendingMove.objects.update(claimed_until=None)  # the crashed worker's lease ran out
    with callbacks(execute=True):
        return moves_resume()


@pytest.fixture
def writes_in_transaction(monkeypatch):
    """Every storage write and read of a file, with whether a transaction was open then."""
    seen = []
    real_save, real_open = FileSystemStorage._save, FileSystemStorage._open

    def save(self, name, content):
        seen.append(("write", name, connection.in_atomic_block))
        return real_save(self, name, content)

    def open_(self, name, mode="rb"):
        seen.append(("read", name, connection.in_atomic_block))
        return real_open(self, name, mode)

    monkeypatch.setattr(FileSystemStorage, "_save", save)
    monkeypatch.setattr(FileSystemStorage, "_open", open_)
    return seen


@pytest.mark.django_db(transaction=True)
class TestNoCopyInsideATransaction:
    def test_quarantine_copies_outside_any_transaction(self, asset, user, writes_in_transaction):
        asset_quarantine(asset=asset, reason="replaced", actor=user)

        writes = [w for w in writes_in_transaction if w[0] == "write"]
        assert writes and not any(inside for _, _, inside in writes)
        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.QUARANTINED, "quarantine")
        assert not exists("hot", asset.storage_key)

    def test_restore_copies_outside_any_transaction(self, asset, user, writes_in_transaction):
        asset_quarantine(asset=asset, reason="replaced", actor=user)
        writes_in_transaction.clear()

        asset_restore(asset=asset, actor=user, reason="mistake")

        writes = [w for w in writes_in_transaction if w[0] == "write"]
        assert writes and not any(inside for _, _, inside in writes)
        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, "hot")
        assert not exists("quarantine", asset.storage_key)


@pytest.mark.django_db
class TestResumeFinishesTheTransition:
    @pytest.mark.parametrize("step", ["retention.moves.move_copy", "retention.moves.move_switch"])
    def test_an_interrupted_quarantine_is_finished(
        self, step, asset, user, monkeypatch, django_capture_on_commit_callbacks
    ):
        key = asset.storage_key
        monkeypatch.setattr(step, crash)
        with pytest.raises(Crash):
            asset_quarantine(asset=asset, reason="blurred duplicate", actor=user, window_days=12)
        monkeypatch.undo()
        # Between the phases the asset is still what it was: active, bytes where they were.
        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias, stored_sha(asset)) == (
            Asset.State.ACTIVE,
            "hot",
            asset.sha256,
        )
        assert not QuarantineRecord.objects.exists()

        resume(django_capture_on_commit_callbacks)

        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.QUARANTINED, "quarantine")
        assert stored_sha(asset) == asset.sha256 and not exists("hot", key)
        record = QuarantineRecord.objects.get(asset=asset)
        assert record.reason == "blurred duplicate" and record.quarantined_by == user
        assert (record.restore_deadline - record.quarantined_at).days == 12
        assert record.previous_alias == "hot"
        assert AuditEvent.objects.filter(verb="asset.quarantined").count() == 1

    @pytest.mark.parametrize("step", ["retention.moves.move_copy", "retention.moves.move_switch"])
    def test_an_interrupted_restore_is_finished(
        self, step, quarantined, user, monkeypatch, django_capture_on_commit_callbacks
    ):
        key = quarantined.storage_key
        monkeypatch.setattr(step, crash)
        with pytest.raises(Crash):
            asset_restore(asset=quarantined, actor=user, reason="mistake")
        monkeypatch.undo()
        quarantined.refresh_from_db()
        assert quarantined.state == Asset.State.QUARANTINED
        assert stored_sha(quarantined) == quarantined.sha256

        resume(django_capture_on_commit_callbacks)

        quarantined.refresh_from_db()
        assert (quarantined.state, quarantined.storage_alias) == (Asset.State.ACTIVE, "hot")
        assert stored_sha(quarantined) == quarantined.sha256
        assert not exists("quarantine", key)
        record = QuarantineRecord.objects.get(asset=quarantined)
        assert record.restored_at is not None and record.restored_by == user
        restored = AuditEvent.objects.get(verb="asset.restored")
        assert restored.reason == "mistake"

    def test_a_restore_under_way_blocks_a_purge(
        self, approved, replaced, user, approver, monkeypatch
    ):
        from retention.guard import disposition_blockers

        monkeypatch.setattr("retention.moves.move_switch", crash)
        with pytest.raises(Crash):
            asset_restore(asset=replaced, actor=user)

        codes = [b.code for b in disposition_blockers(asset=replaced, action="purge")]
        assert "move_under_way" in codes

    def test_a_hold_placed_between_the_phases_wins_over_the_quarantine(
        self, asset, user, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr("retention.moves.move_switch", crash)
        with pytest.raises(Crash):
            asset_quarantine(asset=asset, reason="r", actor=user)
        monkeypatch.undo()
        hold(asset, "LATE-2")

        assert resume(django_capture_on_commit_callbacks) == {"cancelled": 1}

        asset.refresh_from_db()
        assert (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, "hot")
        assert stored_sha(asset) == asset.sha256
        # The copy made for the quarantine is not left behind.
        assert not exists("quarantine", asset.storage_key)
        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1


def test_approval_request_fixtures_still_work(replaced, requester, approver):
    """Disposition requests are filed on quarantined assets made by the two-phase path."""
    request = disposition_request_create(assets=[replaced], reason="dup", actor=requester)
    disposition_request_approve(request=request, actor=approver)
    window_closed(replaced)
    assert request.items.get().asset_id == replaced.pk


@pytest.mark.django_db(transaction=True)
def test_a_hold_placed_during_the_copy_does_not_wait_and_wins(asset, user, monkeypatch):
    """On PostgreSQL: no row stays locked while bytes are copied, so a hold placed from
    another connection during the copy commits at once, and the switch then refuses."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    from retention import moves

    real_write = moves._write
    outcome = {}

    def place_hold():
        try:
            hold(asset, "DURING-COPY")
            outcome["placed"] = True
        finally:
            connections.close_all()

    def slow_write(move):
        thread = threading.Thread(target=place_hold)
        thread.start()
        thread.join(timeout=10)
        outcome["waited"] = thread.is_alive()
        threads.append(thread)
        real_write(move)

    threads = []
    monkeypatch.setattr("retention.moves._write", slow_write)
    try:
        with pytest.raises(Exception, match="DURING-COPY"):
            asset_quarantine(asset=asset, reason="r", actor=user)
    finally:
        for thread in threads:
            thread.join()

    assert outcome == {"placed": True, "waited": False}
    asset.refresh_from_db()
    assert (asset.state, asset.storage_alias) == (Asset.State.ACTIVE, "hot")
    assert stored_sha(asset) == asset.sha256
    assert PendingMove.objects.get().step == PendingMove.Step.CANCELLED
