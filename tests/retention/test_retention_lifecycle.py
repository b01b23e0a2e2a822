"""Retention on the lifecycle core: every change of an asset's state or pointer goes
through `archive.lifecycle`, retention's guard is a registered hook of the one guard,
the licence group follows `replaced_by`, and every step of a destructive path passes
a named crash point."""

import pytest
from django.db.models import QuerySet

from archive import hooks
from archive.errors import ArchiveError
from archive.lifecycle import LIFECYCLE_FIELDS, guard_check, lifecycle_active
from archive.models import Asset
from retention.guard import DispositionBlocked, licence_group, retention_asset_guard
from retention.moves import asset_move
from retention.purge import disposition_execute
from retention.services import asset_quarantine, asset_restore
from tests.retention.conftest import stored_sha

pytestmark = pytest.mark.django_db


@pytest.fixture
def lifecycle_only(monkeypatch):
    """Refuse, as archive.models soon will, lifecycle columns written outside the lifecycle."""
    real_save, real_update = Asset.save, QuerySet.update

    def save(self, *args, **kwargs):
        fields = kwargs.get("update_fields")
        touched = LIFECYCLE_FIELDS if fields is None else set(fields) & set(LIFECYCLE_FIELDS)
        if self.pk is not None and touched and not lifecycle_active():
            raise AssertionError(f"{sorted(touched)} written outside the lifecycle")
        return real_save(self, *args, **kwargs)

    def update(self, **kwargs):
        if self.model is Asset and set(kwargs) & set(LIFECYCLE_FIELDS) and not lifecycle_active():
            raise AssertionError(f"{sorted(kwargs)} updated outside the lifecycle")
        return real_update(self, **kwargs)

    monkeypatch.setattr(Asset, "save", save)
    monkeypatch.setattr(QuerySet, "update", update)


def test_moves_quarantines_restores_and_purges_write_only_through_the_lifecycle(
    lifecycle_only, approved, replaced, asset, other_asset, operator, user, approver,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        asset_move(asset=other_asset, to_alias="cold", actor=operator)
        disposition_execute(request=approved, actor=approver)
    replaced.refresh_from_db()
    assert replaced.state == Asset.State.PURGED

    from tests.archive.helpers import ingest_picture

    fresh = ingest_picture(collection=other_asset.collection, colour="maroon").asset
    with django_capture_on_commit_callbacks(execute=True):
        asset_quarantine(asset=fresh, reason="r", actor=user)
        asset_restore(asset=fresh, actor=user)
    assert stored_sha(fresh) == fresh.sha256


class TestTheOneGuard:
    def test_retention_is_registered_with_the_one_guard(self):
        assert retention_asset_guard in list(hooks.asset_guards)

    def test_the_one_guard_refuses_a_purge_inside_the_window(self, replaced, user):
        with pytest.raises(DispositionBlocked) as info:
            guard_check(asset=replaced, action="purge", actor=user)

        assert "restore_window_open" in [b.code for b in info.value.blockers]
        assert "legal_hold" not in [b.code for b in info.value.blockers]

    def test_consolidation_is_left_to_the_holds(self, asset, user):
        retention_asset_guard(asset=asset, action="consolidate", actor=user)

    def test_a_move_under_way_is_refused_a_second_time(self, asset, operator, monkeypatch):
        monkeypatch.setattr("retention.moves.move_switch", lambda *a, **k: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        monkeypatch.undo()

        with pytest.raises(ArchiveError, match="under way"):
            asset_quarantine(asset=asset, reason="r", actor=operator)


class TestLicenceGroup:
    def test_the_group_is_the_canonical_and_everything_it_replaced(
        self, collection, other_asset, user, django_capture_on_commit_callbacks
    ):
        from dedup.consolidation import consolidation_execute
        from tests.archive.helpers import ingest_picture

        first = ingest_picture(collection=collection, colour="olive").asset
        second = ingest_picture(collection=collection, colour="navy").asset
        with django_capture_on_commit_callbacks(execute=True):
            consolidation_execute(
                canonical=other_asset, replaced=[first], candidates=[], actor=user
            )
            consolidation_execute(
                canonical=other_asset, replaced=[second], candidates=[], actor=user
            )
        first.refresh_from_db()

        assert [a.pk for a in licence_group(asset=first)] == [other_asset.pk, first.pk, second.pk]

    def test_a_restored_asset_is_its_own_group(
        self, replaced, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            asset_restore(asset=replaced, actor=user)
        replaced.refresh_from_db()

        assert licence_group(asset=replaced) == [replaced]


class TestCrashPointsAreNamed:
    def record(self, tmp_path, monkeypatch):
        path = tmp_path / "points"
        monkeypatch.setenv("KEEPSAKE_CRASH_RECORD", str(path))
        return lambda: path.read_text().split() if path.exists() else []

    def test_every_step_of_move_quarantine_and_restore_passes_a_point(
        self, asset, operator, user, tmp_path, monkeypatch, django_capture_on_commit_callbacks
    ):
        passed = self.record(tmp_path, monkeypatch)
        with django_capture_on_commit_callbacks(execute=True):
            asset_move(asset=asset, to_alias="cold", actor=operator)
        with django_capture_on_commit_callbacks(execute=True):
            asset_quarantine(asset=asset, reason="r", actor=user)
        with django_capture_on_commit_callbacks(execute=True):
            asset_restore(asset=asset, actor=user)

        steps = ["opened", "written", "copied", "switched", "source_deleted"]
        expected = [
            f"{kind}.{step}" for kind in ("move", "quarantine", "restore") for step in steps
        ]
        assert passed() == expected

    def test_a_purge_passes_its_points(
        self, approved, approver, tmp_path, monkeypatch, django_capture_on_commit_callbacks
    ):
        passed = self.record(tmp_path, monkeypatch)
        with django_capture_on_commit_callbacks(execute=True):
            disposition_execute(request=approved, actor=approver)

        assert passed() == ["purge.tombstoned", "purge.deleted"]
