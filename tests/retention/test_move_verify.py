"""Issue 11, defect 2: a resumed move verifies the destination's SHA-256 at the switch and
again before deleting the source, local writes reach the disk, and the last verified copy
is never deleted, whatever damage the destination suffers between the steps."""

import os

import pytest
from django.core.files.storage import storages

from archive.models import Asset
from retention.models import FixityCheck, PendingMove
from retention.moves import asset_move, moves_resume
from retention.services import asset_quarantine, asset_restore
from tests.retention.conftest import exists, stored_sha

pytestmark = pytest.mark.django_db


class Crash(Exception):
    """A simulated process death."""


def damage(path, how: str) -> None:
    """What a power cut or a failing disk does to a file that was not on disk yet."""
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flipped":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    elif how == "missing":
        path.unlink()


DAMAGE = ["truncated", "empty", "flipped", "missing"]


def resume(callbacks):
    PendingMove.objects.update(claimed_until=None)  # the crashed worker's lease ran out
    with callbacks(execute=True):
        return moves_resume()


def crash_before_switch(monkeypatch):
    monkeypatch.setattr("retention.moves.move_switch", lambda *a, **k: (_ for _ in ()).throw(Crash))


def crash_before_delete(monkeypatch):
    def crash(*args, **kwargs):
        raise Crash

    monkeypatch.setattr("retention.moves.move_source_delete", crash)


class TestDamageBetweenCopyAndSwitch:
    @pytest.mark.parametrize("how", DAMAGE)
    def test_resume_copies_again_instead_of_pointing_at_bad_bytes(
        self,
        how,
        asset,
        operator,
        isolated_storage,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ):
        key = asset.storage_key
        crash_before_switch(monkeypatch)
        with pytest.raises(Crash):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()
        damage(isolated_storage / "cold" / key, how)

        resume(django_capture_on_commit_callbacks)

        asset.refresh_from_db()
        assert (asset.storage_alias, stored_sha(asset)) == ("cold", asset.sha256)
        assert not exists("hot", key)
        assert PendingMove.objects.get().step == PendingMove.Step.DONE

    def test_a_quarantine_resumed_after_damage_keeps_verified_bytes(
        self, asset, user, isolated_storage, monkeypatch, django_capture_on_commit_callbacks
    ):
        key = asset.storage_key
        crash_before_switch(monkeypatch)
        with pytest.raises(Crash):
            asset_quarantine(asset=asset, reason="replaced", actor=user)
        monkeypatch.undo()
        damage(isolated_storage / "quarantine" / key, "truncated")

        resume(django_capture_on_commit_callbacks)

        asset.refresh_from_db()
        assert asset.state == Asset.State.QUARANTINED
        assert (asset.storage_alias, stored_sha(asset)) == ("quarantine", asset.sha256)
        assert not exists("hot", key)


class TestDamageBetweenSwitchAndDelete:
    @pytest.mark.parametrize("how", DAMAGE)
    def test_the_source_is_kept_and_the_pointer_goes_back_to_it(
        self,
        how,
        asset,
        operator,
        isolated_storage,
        monkeypatch,
        django_capture_on_commit_callbacks,
    ):
        key = asset.storage_key
        crash_before_delete(monkeypatch)
        with django_capture_on_commit_callbacks(execute=True):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()
        assert PendingMove.objects.get().step == PendingMove.Step.SWITCHED
        damage(isolated_storage / "cold" / key, how)

        resume(django_capture_on_commit_callbacks)

        # The only copy that verifies was never deleted, and the pointer names it again.
        asset.refresh_from_db()
        assert (asset.storage_alias, stored_sha(asset)) == ("hot", asset.sha256)
        move = PendingMove.objects.get()
        assert move.step == PendingMove.Step.CANCELLED
        assert "verif" in move.error
        failed = FixityCheck.objects.get(asset=asset, ok=False)
        assert (failed.storage_alias, failed.storage_key) == ("cold", key)

    def test_a_restore_damaged_before_its_delete_keeps_the_quarantine_copy(
        self, quarantined, user, isolated_storage, monkeypatch, django_capture_on_commit_callbacks
    ):
        key = quarantined.storage_key
        crash_before_delete(monkeypatch)
        with django_capture_on_commit_callbacks(execute=True):
            asset_restore(asset=quarantined, actor=user)
        monkeypatch.undo()
        damage(isolated_storage / "hot" / key, "truncated")

        resume(django_capture_on_commit_callbacks)

        quarantined.refresh_from_db()
        assert quarantined.state == Asset.State.ACTIVE
        assert stored_sha(quarantined) == quarantined.sha256
        assert quarantined.storage_alias == "quarantine"

    def test_nothing_is_deleted_while_no_copy_verifies(
        self, asset, operator, isolated_storage, monkeypatch, django_capture_on_commit_callbacks
    ):
        key = asset.storage_key
        crash_before_delete(monkeypatch)
        with django_capture_on_commit_callbacks(execute=True):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()
        damage(isolated_storage / "cold" / key, "flipped")
        damage(isolated_storage / "hot" / key, "flipped")

        resume(django_capture_on_commit_callbacks)

        assert exists("hot", key) and exists("cold", key)
        move = PendingMove.objects.get()
        assert move.step == PendingMove.Step.SWITCHED and move.error


class TestLocalWritesReachTheDisk:
    def test_a_move_fsyncs_the_file_and_its_directories(
        self, asset, operator, isolated_storage, monkeypatch, django_capture_on_commit_callbacks
    ):
        synced = []
        real_fsync = os.fsync

        def fsync(fd):
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        with django_capture_on_commit_callbacks(execute=True):
            asset_move(asset=asset, to_alias="cold", actor=operator)

        cold = storages["cold"]
        path = cold.path(asset.storage_key)
        assert path in synced
        assert os.path.dirname(path) in synced
        assert os.path.realpath(cold.location) in synced
