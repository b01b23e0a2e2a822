"""Signing off licence conflicts: permission, reason, the terms shown, and staleness."""

import datetime as dt

import pytest

from archive.actors import SYSTEM
from archive.errors import ArchiveError
from archive.licensing import (
    TERM_FIELDS,
    licence_conflict_unresolved,
    licence_terms_compare,
)
from archive.licensing import licence_conflict_sign_off as _sign_off
from archive.models import AuditEvent, Licence, LicenceSignOff
from archive.services import record_save
from tests.archive.helpers import ingest_picture
from tests.archive.people import licensing_officer, person

pytestmark = pytest.mark.django_db


def licence(entry, **terms):
    fields = {"holder": "City Archive", "licence_type": Licence.Type.STAFF, **terms}
    return record_save(obj=Licence(entry=entry, **fields), actor=SYSTEM)


def licence_conflict_sign_off(*, assets, **kwargs):
    """Sign off the terms as a person sees them right now (shown, then submitted at once)."""
    shown = licence_terms_compare(assets=assets).terms_fingerprint
    return _sign_off(assets=assets, terms_fingerprint=shown, **kwargs)


@pytest.fixture
def rights():
    return licensing_officer()


@pytest.fixture
def conflict(collection):
    """Two assets whose records carry different licences."""
    a = ingest_picture(collection=collection, colour="teal").asset
    b = ingest_picture(collection=collection, colour="navy").asset
    licence(a.entries.get())
    licence(b.entries.get(), holder="Reuters", licence_type=Licence.Type.AGENCY)
    return [a, b]


class TestLicenceConflictSignOff:
    def test_a_sign_off_resolves_the_conflict_and_records_who_when_why(self, rights, conflict):
        assert licence_conflict_unresolved(assets=conflict) is True

        sign_off = licence_conflict_sign_off(
            assets=conflict, reason="Reuters agreement 2019 covers archive use", actor=rights
        )

        assert licence_conflict_unresolved(assets=conflict) is False
        assert licence_conflict_unresolved(assets=list(reversed(conflict))) is False
        assert sign_off.signed_by == rights and sign_off.signed_at is not None
        assert sign_off.asset_ids == sorted(a.pk for a in conflict)
        assert [column["terms"]["holder"] for column in sign_off.terms] == [
            "City Archive",
            "Reuters",
        ]
        event = AuditEvent.objects.get(verb="licence.conflict_signed_off")
        assert (event.actor, event.reason) == (rights, "Reuters agreement 2019 covers archive use")
        assert event.after["differing_fields"] == ["licence_type", "holder"]

    def test_a_later_licence_change_makes_it_unresolved_again(self, rights, conflict):
        licence_conflict_sign_off(assets=conflict, reason="ok", actor=rights)
        changed = conflict[1].entries.get().licences.get()

        changed.restrictions = "no online use"
        record_save(obj=changed, actor=rights)

        assert licence_conflict_unresolved(assets=conflict) is True

    def test_a_new_record_makes_it_unresolved_again(self, rights, collection, conflict):
        licence_conflict_sign_off(assets=conflict, reason="ok", actor=rights)

        ingest_picture(collection=collection, colour="teal", path="again/teal.jpg")

        assert licence_conflict_unresolved(assets=conflict) is True

    def test_it_covers_its_exact_group_only(self, rights, collection, conflict):
        licence_conflict_sign_off(assets=conflict, reason="ok", actor=rights)
        third = ingest_picture(collection=collection, colour="olive").asset

        assert licence_conflict_unresolved(assets=[*conflict, third]) is True

    def test_needs_the_licensing_permission(self, conflict):
        archivist = person("archivist2", "archive.view_licence")

        with pytest.raises(ArchiveError, match="permission to sign off"):
            licence_conflict_sign_off(assets=conflict, reason="ok", actor=archivist)
        assert licence_conflict_unresolved(assets=conflict) is True

    def test_needs_a_reason(self, rights, conflict):
        with pytest.raises(ArchiveError, match="needs a reason"):
            licence_conflict_sign_off(assets=conflict, reason=" ", actor=rights)

    def test_nothing_to_sign_off_without_a_conflict(self, rights, collection):
        asset = ingest_picture(collection=collection, colour="teal").asset
        licence(asset.entries.get())

        with pytest.raises(ArchiveError, match="nothing to sign off"):
            licence_conflict_sign_off(assets=[asset], reason="ok", actor=rights)

    def test_the_same_terms_are_signed_off_once(self, rights, conflict):
        licence_conflict_sign_off(assets=conflict, reason="ok", actor=rights)

        with pytest.raises(ArchiveError, match="already signed off"):
            licence_conflict_sign_off(assets=conflict, reason="again", actor=rights)
        assert LicenceSignOff.objects.count() == 1

    def test_the_database_keeps_one_sign_off_per_group_and_terms(self, rights, conflict):
        from django.db import IntegrityError, transaction

        comparison = licence_terms_compare(assets=conflict)
        fields = {
            "group_key": comparison.group_key,
            "asset_ids": list(comparison.asset_ids),
            "terms_fingerprint": comparison.terms_fingerprint,
            "terms": [],
            "reason": "r",
            "signed_by": rights,
        }
        LicenceSignOff.objects.create(**fields)

        with pytest.raises(IntegrityError), transaction.atomic():
            LicenceSignOff.objects.create(**fields)


# A change to each term of a licence, as a person might make it while another reads.
TERM_CHANGES = {
    "licence_type": Licence.Type.CC_BY,
    "holder": "Someone else",
    "territory": "Worldwide",
    "valid_from": dt.date(2001, 1, 1),
    "valid_until": dt.date(2099, 12, 31),
    "restrictions": "no online use",
    "credit_line": "© Someone else",
    "agreement_reference": "AGR-2",
}


class TestTheTermsShownAreTheTermsSignedOff:
    """Defect 10: a sign-off was checked against the terms at submission, not those shown."""

    def test_every_term_field_has_a_change_to_try(self):
        assert set(TERM_CHANGES) == set(TERM_FIELDS)

    @pytest.mark.parametrize("field", TERM_FIELDS)
    def test_a_term_changed_between_showing_and_submitting_is_refused(
        self, rights, conflict, field
    ):
        shown = licence_terms_compare(assets=conflict)
        changed = conflict[0].entries.get().licences.get()
        setattr(changed, field, TERM_CHANGES[field])
        record_save(obj=changed, actor=SYSTEM)

        with pytest.raises(ArchiveError, match="changed after they were shown") as info:
            _sign_off(
                assets=conflict,
                terms_fingerprint=shown.terms_fingerprint,
                reason="read and accepted",
                actor=rights,
            )

        assert info.value.code == "conflict"
        assert not LicenceSignOff.objects.exists()
        assert not AuditEvent.objects.filter(verb="licence.conflict_signed_off").exists()
        assert licence_conflict_unresolved(assets=conflict) is True

    @pytest.mark.parametrize("change", ["new licence", "new record"])
    def test_a_licence_or_record_added_meanwhile_is_refused(
        self, rights, collection, conflict, change
    ):
        shown = licence_terms_compare(assets=conflict)
        if change == "new licence":
            licence(conflict[1].entries.get(), holder="Getty", licence_type=Licence.Type.AGENCY)
        else:
            ingest_picture(collection=collection, colour="teal", path="again/teal.jpg")

        with pytest.raises(ArchiveError, match="changed after they were shown"):
            _sign_off(
                assets=conflict,
                terms_fingerprint=shown.terms_fingerprint,
                reason="ok",
                actor=rights,
            )
        assert not LicenceSignOff.objects.exists()

    def test_a_change_that_ends_the_conflict_is_refused_as_a_change(self, rights, conflict):
        shown = licence_terms_compare(assets=conflict)
        other = conflict[1].entries.get().licences.get()
        other.holder, other.licence_type = "City Archive", Licence.Type.STAFF
        record_save(obj=other, actor=SYSTEM)

        with pytest.raises(ArchiveError, match="changed after they were shown"):
            _sign_off(
                assets=conflict,
                terms_fingerprint=shown.terms_fingerprint,
                reason="ok",
                actor=rights,
            )

    def test_the_terms_shown_are_stored_with_the_sign_off(self, rights, conflict):
        shown = licence_terms_compare(assets=conflict)

        sign_off = _sign_off(
            assets=conflict, terms_fingerprint=shown.terms_fingerprint, reason="ok", actor=rights
        )

        assert sign_off.terms_fingerprint == shown.terms_fingerprint
        assert sign_off.terms == shown.as_json()

    def test_time_passing_is_not_a_change_of_terms(self, rights, conflict, clock):
        """Flags (expired, not yet valid) follow the calendar; the terms themselves do not."""
        changed = conflict[0].entries.get().licences.get()
        changed.valid_until = clock.now().date() + dt.timedelta(days=1)
        record_save(obj=changed, actor=SYSTEM)
        shown = licence_terms_compare(assets=conflict)
        clock.advance(days=3)

        assert licence_terms_compare(assets=conflict).columns[0].flags == ("expired",)
        sign_off = _sign_off(
            assets=conflict, terms_fingerprint=shown.terms_fingerprint, reason="ok", actor=rights
        )
        assert sign_off.terms_fingerprint == shown.terms_fingerprint

    @pytest.mark.parametrize("fingerprint", ["", "  ", None])
    def test_a_sign_off_without_the_terms_shown_is_refused(self, rights, conflict, fingerprint):
        with pytest.raises(ArchiveError, match="names the terms it was made on") as info:
            _sign_off(assets=conflict, terms_fingerprint=fingerprint, reason="ok", actor=rights)
        assert info.value.code == "invalid"

    def test_the_system_does_not_sign_off(self, conflict):
        shown = licence_terms_compare(assets=conflict).terms_fingerprint
        with pytest.raises(ArchiveError, match="Only a person") as info:
            _sign_off(assets=conflict, terms_fingerprint=shown, reason="ok", actor=SYSTEM)
        assert info.value.code == "permission_denied"

    def test_nobody_does_not_sign_off(self, conflict):
        shown = licence_terms_compare(assets=conflict).terms_fingerprint
        with pytest.raises(ArchiveError) as info:
            _sign_off(assets=conflict, terms_fingerprint=shown, reason="ok", actor=None)
        assert info.value.code == "permission_denied"
