"""Issue 11, defect 6: a restore ends the replacement and voids open disposition items, so
neither the next enforcement run nor an approval given before the restore undoes it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from archive.actors import SYSTEM
from archive.models import Asset, AuditEvent
from retention.enforce import retention_enforce
from retention.guard import disposition_blockers
from retention.policies import policy_create
from retention.purge import disposition_execute
from retention.services import asset_quarantine, asset_restore
from tests.retention.conftest import stored_sha, window_closed

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """Move `timezone.now` forward by whole days from whatever today is; no fixed dates."""

    class Clock:
        offset = timedelta()

        def advance(self, **delta):
            self.offset += timedelta(**delta)

    clock = Clock()
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + clock.offset)
    return clock


@pytest.fixture
def purge_everything(collection):
    """A policy that purges anything of the collection after its window, so only the
    approval stands between a quarantined asset and its purge."""
    return policy_create(
        key="purge-field-photos",
        actor=None,  # retention.policies records the author as given
        name="Field photos: purge after the window",
        collection=collection,
        purge_after_window=True,
    )


def enforce(callbacks):
    with callbacks(execute=True):
        return retention_enforce(dry_run=False, actor=SYSTEM)


class TestRestoreEndsTheReplacement:
    def test_enforcement_never_quarantines_a_restored_duplicate_again(
        self, approved, replaced, user, approver, clock, django_capture_on_commit_callbacks
    ):
        callbacks = django_capture_on_commit_callbacks
        with callbacks(execute=True):
            asset_restore(asset=replaced, actor=user, reason="not a duplicate after all")
        restored_at = timezone.now()

        for _ in range(3):
            enforce(callbacks)
            clock.advance(days=31)
        with callbacks(execute=True):
            disposition_execute(request=approved, actor=approver)

        replaced.refresh_from_db()
        assert (replaced.state, replaced.replaced_by_id) == (Asset.State.ACTIVE, None)
        assert stored_sha(replaced) == replaced.sha256
        later = AuditEvent.objects.filter(
            object_type="archive.asset", object_id=str(replaced.pk), created_at__gt=restored_at
        )
        assert not later.filter(verb__in=["asset.quarantined", "asset.purged"]).exists()

    def test_an_approval_given_before_the_restore_is_never_reused(
        self,
        approved,
        replaced,
        user,
        approver,
        purge_everything,
        clock,
        django_capture_on_commit_callbacks,
    ):
        callbacks = django_capture_on_commit_callbacks
        with callbacks(execute=True):
            asset_restore(asset=replaced, actor=user, reason="mistake")
            asset_quarantine(asset=replaced, reason="out of focus", actor=user)
        clock.advance(days=31)
        window_closed(replaced)

        # Only the approval is missing: the old one no longer counts.
        assert [b.code for b in disposition_blockers(asset=replaced, action="purge")] == [
            "approval_missing"
        ]
        enforce(callbacks)
        with callbacks(execute=True):
            outcomes = disposition_execute(request=approved, actor=approver)

        replaced.refresh_from_db()
        assert replaced.state == Asset.State.QUARANTINED
        assert stored_sha(replaced) == replaced.sha256
        assert outcomes[replaced.pk].startswith("voided")
        assert not AuditEvent.objects.filter(verb="asset.purged").exists()

    def test_the_restore_voids_open_items_on_the_record(self, approved, replaced, user):
        asset_restore(asset=replaced, actor=user, reason="mistake")

        item = approved.items.get()
        assert item.executed_at is not None and item.outcome.startswith("voided")
        event = AuditEvent.objects.get(verb="disposition.item_voided")
        assert event.object_id == str(approved.pk) and event.after["asset"] == replaced.pk
