"""Placing legal holds: who may, what they freeze (assets, entries, collections, twins)."""

import pytest
from django.db.models import Exists

from archive import hooks
from archive.errors import ArchiveError
from archive.holds import legal_hold_place
from archive.lifecycle import lifecycle_writes
from archive.models import Asset, AuditEvent
from archive.selectors import (
    asset_active_holds,
    asset_is_frozen,
    frozen_asset_ids,
)
from archive.services import collection_get_or_create
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return compliance_officer()


@pytest.fixture
def teal(collection):
    return ingest_picture(collection=collection, colour="teal").asset


@pytest.fixture
def navy(collection):
    return ingest_picture(collection=collection, colour="navy").asset


def frozen() -> set[int]:
    return set(frozen_asset_ids().values_list("pk", flat=True))


class TestLegalHoldPlace:
    def test_a_hold_on_an_asset_freezes_it_and_is_audited(self, officer, teal, navy):
        hold = legal_hold_place(
            matter_reference=" M-2024-17 ", reason="Smith v. City", assets=[teal], actor=officer
        )

        assert hold.matter_reference == "M-2024-17"
        assert hold.placed_by == officer and hold.is_active is True
        assert asset_is_frozen(asset=teal) is True
        assert asset_is_frozen(asset=navy) is False
        assert frozen() == {teal.pk}
        event = AuditEvent.objects.get(verb="legalhold.placed")
        assert (event.actor, event.object_id, event.reason) == (
            officer,
            str(hold.pk),
            "Smith v. City",
        )
        assert event.after["assets"] == [teal.pk]
        assert event.after["assets_with_twins"] == [teal.pk]

    def test_a_hold_on_an_entry_freezes_the_entrys_asset(self, officer, teal, navy):
        legal_hold_place(
            matter_reference="M-1", reason="r", entries=[teal.entries.get()], actor=officer
        )

        assert frozen() == {teal.pk}
        assert [h.matter_reference for h in asset_active_holds(asset=teal)] == ["M-1"]

    def test_a_hold_on_a_collection_freezes_its_assets_including_later_ones(
        self, officer, collection, teal
    ):
        other = collection_get_or_create(name="Permits")
        elsewhere = ingest_picture(collection=other, colour="olive").asset
        legal_hold_place(
            matter_reference="M-1", reason="r", collections=[collection], actor=officer
        )

        later = ingest_picture(collection=collection, colour="maroon").asset

        assert frozen() == {teal.pk, later.pk}
        assert asset_is_frozen(asset=later) is True
        assert asset_is_frozen(asset=elsewhere) is False

    def test_an_asset_reaching_a_held_collection_through_another_source_is_frozen(
        self, officer, collection
    ):
        """Same bytes ingested into a second collection: the one asset belongs to both."""
        other = collection_get_or_create(name="Permits")
        asset = ingest_picture(collection=other, colour="olive").asset
        again = ingest_picture(collection=collection, colour="olive", path="copy/olive.jpg")
        assert again.asset == asset

        legal_hold_place(
            matter_reference="M-1", reason="r", collections=[collection], actor=officer
        )

        assert asset_is_frozen(asset=asset) is True

    def test_an_exact_twin_of_a_held_asset_is_frozen(self, officer, collection, teal):
        """A tombstone and a later re-ingest of the same bytes are twins."""
        with lifecycle_writes():  # a purge's tombstone, without the purge's paperwork
            Asset.objects.filter(pk=teal.pk).update(state=Asset.State.PURGED, storage_key="")
        legal_hold_place(matter_reference="M-1", reason="r", assets=[teal], actor=officer)

        again = ingest_picture(collection=collection, colour="teal", path="again/teal.jpg").asset

        assert again.pk != teal.pk
        assert asset_is_frozen(asset=again) is True
        assert frozen() == {teal.pk, again.pk}

    def test_twins_registered_by_a_child_app_are_frozen_both_ways(self, officer, teal, navy):
        """The hook dedup uses for pixel twins: an implementation maps asset ids to twin ids."""

        pair = [teal.pk, navy.pk]  # stand-ins for two files with the same decoded pixels

        def pixel_twins(*, asset_ids):
            # As a subquery, the way dedup answers: the pair, if either of it was asked about.
            asked = Asset.objects.filter(pk__in=asset_ids).filter(pk__in=pair)
            return Asset.objects.filter(pk__in=pair).filter(Exists(asked)).values("pk")

        hooks.asset_twins.register(pixel_twins)
        try:
            legal_hold_place(matter_reference="M-1", reason="r", assets=[teal], actor=officer)
            assert asset_is_frozen(asset=navy) is True
            assert [h.matter_reference for h in asset_active_holds(asset=navy)] == ["M-1"]
            assert frozen() == {teal.pk, navy.pk}
        finally:
            hooks.asset_twins.unregister(pixel_twins)

    def test_overlapping_holds_are_all_listed(self, officer, collection, teal):
        legal_hold_place(matter_reference="M-1", reason="r", assets=[teal], actor=officer)
        legal_hold_place(
            matter_reference="M-2", reason="r", collections=[collection], actor=officer
        )

        holds = asset_active_holds(asset=teal)

        assert [h.matter_reference for h in holds] == ["M-1", "M-2"]

    def test_needs_the_permission(self, teal):
        clerk = person("clerk", "archive.view_legalhold")

        with pytest.raises(ArchiveError, match="permission to place legal holds"):
            legal_hold_place(matter_reference="M-1", reason="r", assets=[teal], actor=clerk)
        assert asset_is_frozen(asset=teal) is False
        assert not AuditEvent.objects.filter(verb="legalhold.placed").exists()

    @pytest.mark.parametrize(
        ("matter", "reason", "message"),
        [("", "r", "needs a matter reference"), ("M-1", "  ", "needs a reason")],
    )
    def test_needs_a_matter_and_a_reason(self, officer, teal, matter, reason, message):
        with pytest.raises(ArchiveError, match=message):
            legal_hold_place(matter_reference=matter, reason=reason, assets=[teal], actor=officer)
        assert asset_is_frozen(asset=teal) is False

    def test_needs_something_to_hold(self, officer):
        with pytest.raises(ArchiveError, match="at least one asset"):
            legal_hold_place(matter_reference="M-1", reason="r", actor=officer)

    def test_frozen_check_is_one_query(self, officer, teal, django_assert_num_queries):
        legal_hold_place(matter_reference="M-1", reason="r", assets=[teal], actor=officer)

        with django_assert_num_queries(1):
            assert asset_is_frozen(asset=teal) is True
        with django_assert_num_queries(1):
            assert len(asset_active_holds(asset=teal)) == 1
        with django_assert_num_queries(1):
            assert Asset.objects.under_active_hold().count() == 1
