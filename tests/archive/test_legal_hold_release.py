"""Releasing legal holds: with a reason, by the permission holder, once; overlaps stay frozen."""

import pytest

from archive.errors import ArchiveError
from archive.holds import legal_hold_place, legal_hold_release
from archive.models import AuditEvent, LegalHold
from archive.selectors import asset_active_holds, asset_is_frozen
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return compliance_officer()


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal").asset


@pytest.fixture
def hold(officer, asset):
    return legal_hold_place(
        matter_reference="M-1", reason="subpoena", assets=[asset], actor=officer
    )


class TestLegalHoldRelease:
    def test_release_unfreezes_and_records_who_and_why(self, officer, asset, hold):
        released = legal_hold_release(hold=hold, reason="case settled", actor=officer)

        assert released.is_active is False
        assert (released.released_by, released.release_reason) == (officer, "case settled")
        assert asset_is_frozen(asset=asset) is False
        event = AuditEvent.objects.get(verb="legalhold.released")
        assert (event.actor, event.object_id, event.reason) == (
            officer,
            str(hold.pk),
            "case settled",
        )

    def test_an_asset_stays_frozen_while_any_overlapping_hold_is_active(
        self, officer, collection, asset, hold
    ):
        second = legal_hold_place(
            matter_reference="M-2", reason="audit", collections=[collection], actor=officer
        )

        legal_hold_release(hold=hold, reason="settled", actor=officer)
        assert asset_is_frozen(asset=asset) is True
        assert [h.matter_reference for h in asset_active_holds(asset=asset)] == ["M-2"]

        legal_hold_release(hold=second, reason="closed", actor=officer)
        assert asset_is_frozen(asset=asset) is False

    def test_needs_a_reason(self, officer, asset, hold):
        with pytest.raises(ArchiveError, match="needs a reason"):
            legal_hold_release(hold=hold, reason="   ", actor=officer)
        assert asset_is_frozen(asset=asset) is True

    def test_needs_the_permission(self, asset, hold):
        placer = person("placer", "archive.place_legal_hold")

        with pytest.raises(ArchiveError, match="permission to release legal holds"):
            legal_hold_release(hold=hold, reason="settled", actor=placer)
        assert LegalHold.objects.get(pk=hold.pk).is_active is True

    def test_a_hold_is_released_once(self, officer, hold):
        legal_hold_release(hold=hold, reason="settled", actor=officer)

        with pytest.raises(ArchiveError, match="already released"):
            legal_hold_release(hold=hold, reason="again", actor=officer)
        assert AuditEvent.objects.filter(verb="legalhold.released").count() == 1
