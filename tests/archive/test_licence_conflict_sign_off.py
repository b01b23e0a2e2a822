"""Signing off licence conflicts: permission, reason, and staleness when terms change."""

import pytest

from archive.errors import ArchiveError
from archive.licensing import (
    licence_conflict_sign_off,
    licence_conflict_unresolved,
    licence_terms_compare,
)
from archive.models import AuditEvent, Licence, LicenceSignOff
from archive.services import record_save
from tests.archive.helpers import ingest_picture
from tests.archive.people import licensing_officer, person

pytestmark = pytest.mark.django_db


def licence(entry, **terms):
    fields = {"holder": "City Archive", "licence_type": Licence.Type.STAFF, **terms}
    return record_save(obj=Licence(entry=entry, **fields), actor=None)


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
