"""The guard every destructive path calls: refuses frozen assets and audits the attempt."""

import pytest
from django.db import transaction

from archive.audit import audit_verify
from archive.errors import ArchiveError
from archive.holds import (
    LegalHoldRefused,
    hold_guard_check,
    hold_refusals_audited,
    legal_hold_place,
    legal_hold_release,
)
from archive.models import AuditEvent
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return compliance_officer()


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal").asset


@pytest.fixture
def held(officer, collection, asset):
    legal_hold_place(matter_reference="M-7", reason="r", assets=[asset], actor=officer)
    legal_hold_place(matter_reference="M-3", reason="r", collections=[collection], actor=officer)
    return asset


def refusals():
    return AuditEvent.objects.filter(verb="legalhold.refused")


@hold_refusals_audited()
@transaction.atomic
def purge(*, asset, actor):
    """The shape of a guarded destructive service (retention's disposition, for one)."""
    hold_guard_check(asset=asset, action="purge", actor=actor)
    raise AssertionError("the guard let a frozen asset through")


class TestHoldGuardCheck:
    def test_an_asset_without_holds_passes_silently(self, asset, user):
        hold_guard_check(asset=asset, action="purge", actor=user)

        assert not refusals().exists()

    def test_a_frozen_asset_is_refused_with_the_matter_references(self, held, user):
        with pytest.raises(
            ArchiveError, match=r"under legal hold \(M-3, M-7\); purge refused"
        ) as info:
            hold_guard_check(asset=held, action="purge", actor=user)

        assert isinstance(info.value, LegalHoldRefused)
        assert info.value.code == "legal_hold"
        assert info.value.matter_references == ["M-3", "M-7"]
        event = refusals().get()
        assert (event.actor, event.object_type, event.object_id) == (
            user,
            "archive.asset",
            str(held.pk),
        )
        assert event.after["action"] == "purge"
        assert sorted(h["matter_reference"] for h in event.after["holds"]) == ["M-3", "M-7"]

    def test_the_refusal_is_audited_although_the_callers_transaction_rolls_back(self, held, user):
        with pytest.raises(LegalHoldRefused):
            purge(asset=held, actor=user)

        event = refusals().get()
        assert event.after["action"] == "purge"
        assert audit_verify().ok is True

    def test_a_caller_that_skips_frozen_assets_and_commits_keeps_one_event(self, held, user):
        with hold_refusals_audited(), transaction.atomic():
            try:
                hold_guard_check(asset=held, action="quarantine", actor=user)
            except LegalHoldRefused:
                pass  # a batch moves on to the next asset

        assert refusals().count() == 1

    def test_a_released_hold_no_longer_refuses(self, officer, held, user):
        for hold in held.legal_holds.all():
            legal_hold_release(hold=hold, reason="done", actor=officer)
        assert held.collection.legal_holds.filter(released_at__isnull=True).count() == 1

        with pytest.raises(LegalHoldRefused, match=r"\(M-3\)"):
            hold_guard_check(asset=held, action="move", actor=user)

    def test_without_the_wrapper_the_rollback_takes_the_refusal_with_it(self, held, user):
        """Why guarded services wrap their transaction in hold_refusals_audited()."""
        with pytest.raises(LegalHoldRefused), transaction.atomic():
            hold_guard_check(asset=held, action="purge", actor=user)

        assert not refusals().exists()


@pytest.mark.django_db(transaction=True)
def test_the_refusal_survives_a_real_rollback(collection, user):
    """Outside any test transaction: the caller's transaction really rolls back."""
    asset = ingest_picture(collection=collection, colour="teal").asset
    legal_hold_place(matter_reference="M-9", reason="r", assets=[asset], actor=compliance_officer())

    with pytest.raises(LegalHoldRefused):
        purge(asset=asset, actor=user)

    assert refusals().get().after["holds"][0]["matter_reference"] == "M-9"
    assert audit_verify().ok is True
