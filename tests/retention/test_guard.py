"""disposition_blockers: every reason a move, quarantine or purge may not happen now."""

import pytest

from archive.holds import LegalHoldRefused, legal_hold_release
from archive.licensing import licence_conflict_sign_off, licence_terms_compare
from archive.models import AuditEvent, Licence
from archive.services import record_save
from retention.guard import (
    DispositionBlocked,
    disposition_blockers,
    disposition_guard_check,
    licence_group,
)
from retention.models import QuarantineRecord
from tests.archive.helpers import ingest_bytes, ingest_picture
from tests.archive.people import licensing_officer
from tests.conftest import image_bytes, make_image
from tests.retention.conftest import hold

pytestmark = pytest.mark.django_db


def codes(asset, action):
    return [b.code for b in disposition_blockers(asset=asset, action=action)]


class TestDispositionBlockers:
    def test_an_active_asset_may_move_and_be_quarantined(self, asset):
        assert codes(asset, "move") == []
        assert codes(asset, "quarantine") == []

    def test_a_held_asset_is_blocked_for_every_action(self, asset, replaced):
        held = hold(asset, "CASE-1")
        for action in ("move", "quarantine", "purge"):
            assert "legal_hold" in codes(asset, action)
        assert "CASE-1" in disposition_blockers(asset=asset, action="purge")[0].message
        legal_hold_release(hold=held, reason="closed", actor=held.placed_by)
        assert "legal_hold" not in codes(asset, "purge")

    def test_an_active_asset_cannot_be_purged(self, asset):
        assert codes(asset, "purge") == ["not_quarantined"]

    def test_a_fresh_quarantine_lists_window_and_approval(self, replaced):
        assert codes(replaced, "purge") == ["restore_window_open", "approval_missing"]

    def test_nothing_blocks_an_approved_purge_after_the_window(self, approved, replaced):
        assert codes(replaced, "purge") == []

    def test_a_quarantined_asset_cannot_be_moved_or_quarantined_again(self, quarantined):
        assert codes(quarantined, "move") == ["not_active"]
        assert codes(quarantined, "quarantine") == ["not_active"]

    def test_originals_are_kept_forever_by_default(self, quarantined):
        assert "keep_forever" in codes(quarantined, "purge")

    def test_unknown_actions_are_refused(self, asset):
        with pytest.raises(ValueError):
            disposition_blockers(asset=asset, action="shred")


class TestPublishedBytes:
    def test_the_last_copy_of_published_bytes_is_blocked(
        self, collection, other_asset, user, django_capture_on_commit_callbacks
    ):
        """Consolidation repoints the entry; its published_sha256 still names these bytes."""
        from dedup.consolidation import consolidation_execute

        published = ingest_bytes(
            image_bytes(make_image("navy")), collection=collection, path="p.jpg", published=True
        ).asset
        with django_capture_on_commit_callbacks(execute=True):
            consolidation_execute(
                canonical=other_asset, replaced=[published], candidates=[], actor=user
            )
        published.refresh_from_db()
        assert published.entries.count() == 0

        assert "published_last_copy" in codes(published, "purge")
        assert "keep_forever" in codes(published, "purge")


class TestLicences:
    def test_a_conflict_in_the_consolidation_group_blocks_until_signed_off(
        self, asset, other_asset, user, django_capture_on_commit_callbacks
    ):
        from dedup.consolidation import consolidation_execute

        record_save(
            obj=Licence(entry=asset.entries.get(), holder="A", licence_type="staff"), actor=user
        )
        record_save(
            obj=Licence(entry=other_asset.entries.get(), holder="B", licence_type="agency"),
            actor=user,
        )
        officer = licensing_officer()
        shown = licence_terms_compare(assets=[asset, other_asset]).terms_fingerprint
        licence_conflict_sign_off(
            assets=[asset, other_asset], terms_fingerprint=shown, reason="ok", actor=officer
        )
        with django_capture_on_commit_callbacks(execute=True):
            consolidation_execute(
                canonical=other_asset, replaced=[asset], candidates=[], actor=user
            )
        asset.refresh_from_db()
        assert [a.pk for a in licence_group(asset=asset)] == [other_asset.pk, asset.pk]

        # Repointing the records changed no terms: the sign-off still covers the group.
        assert other_asset.entries.count() == 2
        assert "licence_conflict" not in codes(asset, "purge")
        record_save(
            obj=Licence(entry=other_asset.entries.last(), holder="C", licence_type="cc_by"),
            actor=user,
        )
        # A new licence is new terms: the conflict is open again until signed off.
        assert "licence_conflict" in codes(asset, "purge")


class TestDispositionGuardCheck:
    def test_a_held_asset_is_refused_and_the_refusal_audited(self, asset, user):
        hold(asset)

        with pytest.raises(LegalHoldRefused):
            disposition_guard_check(asset=asset, action="move", actor=user)

        assert AuditEvent.objects.filter(verb="legalhold.refused").count() == 1

    def test_other_blockers_are_raised_together(self, replaced, user):
        """The refusal names the deadline itself (not merely this year: it may be next year)."""
        record = QuarantineRecord.objects.get(asset=replaced, restored_at=None)

        with pytest.raises(DispositionBlocked) as info:
            disposition_guard_check(asset=replaced, action="purge", actor=user)

        assert [b.code for b in info.value.blockers] == [
            "restore_window_open",
            "approval_missing",
        ]
        assert f"until {record.restore_deadline:%Y-%m-%d %H:%M}" in info.value.message

    def test_a_twin_under_hold_freezes_the_asset(self, collection, user):
        first = ingest_picture(collection=collection, colour="olive").asset
        hold(first)

        assert "legal_hold" in codes(first, "quarantine")
