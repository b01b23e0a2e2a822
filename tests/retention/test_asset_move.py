"""asset_move: copy, verify, switch, delete; resumable after a crash at any step."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages

from archive.errors import ArchiveError
from archive.holds import LegalHoldRefused
from archive.models import Asset, AuditEvent
from retention import moves
from retention.models import PendingMove
from retention.moves import asset_move, moves_resume
from tests.retention.conftest import exists, hold, stored_sha

pytestmark = pytest.mark.django_db


class Crash(Exception):
    """A simulated process death at one step."""


def crash(*args, **kwargs):
    raise Crash


def half_written(move):
    """The copy dies after writing part of the file."""
    storages[move.to_alias].save(move.to_key, ContentFile(b"\xff\xd8 partial"))
    raise Crash


def deletion_crash(self, name):
    raise Crash


CRASH_POINTS = {
    "before the copy": ("retention.moves.move_copy", crash),
    "half-way through writing": ("retention.moves._write", half_written),
    "after the verified copy": ("retention.moves.move_switch", crash),
    "inside the switch, before commit": ("archive.lifecycle.audit_record", crash),
    "after the switch committed": ("retention.moves.move_source_delete", crash),
    "while deleting the source": (FileSystemStorage, deletion_crash),
}


def resume(callbacks):
    PendingMove.objects.update(claimed_until=None)  # the crashed worker's lease ran out
    with callbacks(execute=True):
        return moves_resume()


class TestAssetMove:
    def test_a_move_copies_verifies_switches_and_deletes_the_source(
        self, asset, operator, django_capture_on_commit_callbacks
    ):
        hot_key = asset.storage_key
        with django_capture_on_commit_callbacks(execute=True):
            move = asset_move(asset=asset, to_alias="cold", actor=operator)

        asset.refresh_from_db()
        assert (asset.storage_alias, asset.storage_key) == ("cold", hot_key)
        assert stored_sha(asset) == asset.sha256
        assert not exists("hot", hot_key)
        move.refresh_from_db()
        assert move.step == PendingMove.Step.DONE
        event = AuditEvent.objects.get(verb="asset.moved")
        assert event.after["storage"] == f"cold:{hot_key}"

    def test_moving_again_is_a_no_op(self, asset, operator, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            asset_move(asset=asset, to_alias="cold", actor=operator)
            assert asset_move(asset=asset, to_alias="cold", actor=operator) is None

        assert PendingMove.objects.count() == 1

    def test_a_held_asset_is_never_moved(self, asset, operator):
        hold(asset)

        with pytest.raises(LegalHoldRefused):
            asset_move(asset=asset, to_alias="cold", actor=operator)

        asset.refresh_from_db()
        assert asset.storage_alias == "hot"
        assert not PendingMove.objects.exists()
        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1

    def test_a_hold_placed_during_the_copy_wins(
        self, asset, operator, monkeypatch, django_capture_on_commit_callbacks
    ):
        real_copy = moves.move_copy

        def copy_then_hold(move):
            real_copy(move)
            hold(asset, "LATE-1")

        monkeypatch.setattr("retention.moves.move_copy", copy_then_hold)
        with pytest.raises(LegalHoldRefused, match="LATE-1"):
            asset_move(asset=asset, to_alias="cold", actor=operator)

        asset.refresh_from_db()
        assert asset.storage_alias == "hot" and stored_sha(asset) == asset.sha256
        assert PendingMove.objects.get().step == PendingMove.Step.CANCELLED

    def test_moving_needs_the_permission(self, asset, user):
        with pytest.raises(ArchiveError, match="permission"):
            asset_move(asset=asset, to_alias="cold", actor=user)

    def test_quarantine_is_not_a_tier_move(self, asset, operator):
        with pytest.raises(ArchiveError, match="quarantine"):
            asset_move(asset=asset, to_alias="quarantine", actor=operator)

    def test_damaged_source_bytes_are_never_copied(self, asset, operator, isolated_storage):
        (isolated_storage / "hot" / asset.storage_key).write_bytes(b"bit rot")

        with pytest.raises(ArchiveError, match="does not match"):
            asset_move(asset=asset, to_alias="cold", actor=operator)

        asset.refresh_from_db()
        assert asset.storage_alias == "hot"
        assert not exists("cold", asset.storage_key)


class TestMoveCrashes:
    @pytest.mark.parametrize("point", CRASH_POINTS)
    def test_a_crash_at_any_step_resumes_without_losing_bytes(
        self, point, asset, operator, monkeypatch, django_capture_on_commit_callbacks
    ):
        target, replacement = CRASH_POINTS[point]
        if isinstance(target, str):
            monkeypatch.setattr(target, replacement)
        else:
            monkeypatch.setattr(target, "delete", replacement)
        key = asset.storage_key

        try:
            with django_capture_on_commit_callbacks(execute=True):
                asset_move(asset=asset, to_alias="cold", actor=operator)
        except Crash:
            pass

        # At the instant of the crash, the pointer names a copy that verifies.
        assert stored_sha(asset) == asset.sha256
        assert PendingMove.objects.get().is_open
        monkeypatch.undo()

        resume(django_capture_on_commit_callbacks)

        asset.refresh_from_db()
        assert (asset.storage_alias, stored_sha(asset)) == ("cold", asset.sha256)
        assert not exists("hot", key)
        assert PendingMove.objects.get().step == PendingMove.Step.DONE
        assert AuditEvent.objects.filter(verb="asset.moved").count() == 1

    def test_resuming_twice_changes_nothing_more(
        self, asset, operator, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr("retention.moves.move_switch", crash)
        with pytest.raises(Crash):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()

        first = resume(django_capture_on_commit_callbacks)
        second = resume(django_capture_on_commit_callbacks)

        assert first == {"deleted": 1}
        assert second == {}
        assert stored_sha(asset) == asset.sha256

    def test_a_move_another_worker_owns_is_left_alone(self, asset, operator, monkeypatch):
        monkeypatch.setattr("retention.moves.move_switch", crash)
        with pytest.raises(Crash):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()

        # The lease taken at the start is still running: a parallel resumer skips it.
        assert moves_resume() == {"busy": 1}
        assert Asset.objects.get(pk=asset.pk).storage_alias == "hot"

    def test_a_second_move_waits_for_the_first(self, asset, operator, monkeypatch):
        monkeypatch.setattr("retention.moves.move_switch", crash)
        with pytest.raises(Crash):
            asset_move(asset=asset, to_alias="cold", actor=operator)

        with pytest.raises(ArchiveError, match="under way"):
            asset_move(asset=asset, to_alias="cold", actor=operator)
