"""Licence comparison across the records behind a group of assets, and licence flags."""

import datetime as dt

import pytest

from archive.errors import ArchiveError
from archive.licensing import (
    LicenceFlag,
    asset_licence_flags,
    licence_conflict_unresolved,
    licence_terms_compare,
)
from archive.models import Licence
from archive.services import collection_get_or_create, record_save
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 1)


def licence(entry, actor=None, **terms):
    fields = {"holder": "City Archive", "licence_type": Licence.Type.STAFF, **terms}
    return record_save(obj=Licence(entry=entry, **fields), actor=actor)


@pytest.fixture
def pair(collection):
    """Two assets (a duplicate pair), one catalogue entry each."""
    return (
        ingest_picture(collection=collection, colour="teal").asset,
        ingest_picture(collection=collection, colour="navy").asset,
    )


class TestLicenceTermsCompare:
    def test_every_licence_of_every_record_is_listed_side_by_side(self, pair):
        a, b = pair
        first = licence(a.entries.get(), holder="Reuters", licence_type=Licence.Type.AGENCY)
        licence(b.entries.get(), holder="City Archive")

        report = licence_terms_compare(assets=[b, a])

        assert report.asset_ids == (a.pk, b.pk)
        assert [(c.asset_id, c.licence_id) for c in report.columns][0] == (a.pk, first.pk)
        assert len(report.columns) == 2
        assert report.conflict is True
        assert report.differing_fields == ("licence_type", "holder")
        rows = dict((name, (values, differs)) for name, values, differs in report.rows())
        assert rows["holder"] == (["Reuters", "City Archive"], True)
        assert rows["territory"] == (["", ""], False)

    def test_identical_terms_are_no_conflict(self, pair):
        for asset in pair:
            licence(asset.entries.get(), territory="worldwide", credit_line="© City")

        report = licence_terms_compare(assets=pair)

        assert (report.conflict, report.differing_fields) == (False, ())
        assert licence_conflict_unresolved(assets=pair) is False

    def test_records_are_compared_as_wholes(self, pair):
        """Each record holding the same two licences agrees, though the licences differ."""
        for asset in pair:
            licence(asset.entries.get(), holder="Staff photographer")
            licence(asset.entries.get(), holder="AP", licence_type=Licence.Type.AGENCY)

        assert licence_terms_compare(assets=pair).conflict is False

    def test_a_record_without_a_licence_differs_from_one_with(self, pair):
        licence(pair[0].entries.get())

        report = licence_terms_compare(assets=pair)

        assert report.conflict is True
        assert report.columns[1].terms is None
        assert report.columns[1].flags == (LicenceFlag.UNLICENSED,)

    def test_records_sharing_one_asset_are_compared_too(self, collection):
        """Exact twins share one asset; their records may still carry different licences."""
        asset = ingest_picture(collection=collection, colour="teal").asset
        other = collection_get_or_create(name="Newsroom")
        ingest_picture(collection=other, colour="teal", path="wire/teal.jpg")
        first, second = asset.entries.order_by("pk")
        licence(first, holder="Staff")
        licence(second, holder="AFP", licence_type=Licence.Type.AGENCY)

        assert licence_terms_compare(assets=[asset]).conflict is True

    def test_a_licence_change_changes_the_fingerprint(self, pair):
        granted = licence(pair[0].entries.get())
        licence(pair[1].entries.get(), holder="AP")
        before = licence_terms_compare(assets=pair).terms_fingerprint

        granted.territory = "EU"
        record_save(obj=granted, actor=None)

        assert licence_terms_compare(assets=pair).terms_fingerprint != before

    def test_no_assets_is_refused(self):
        with pytest.raises(ArchiveError, match="at least one asset"):
            licence_terms_compare(assets=[])

    def test_comparison_reads_in_two_queries(self, pair, django_assert_num_queries):
        for asset in pair:
            licence(asset.entries.get())

        with django_assert_num_queries(2):
            licence_terms_compare(assets=pair)


class TestLicenceFlags:
    def test_expired_restricted_unknown_and_future_licences_are_flagged(self, pair):
        a, b = pair
        licence(a.entries.get(), valid_until=dt.date(2025, 5, 31), restrictions="no ads")
        licence(b.entries.get(), licence_type=Licence.Type.UNKNOWN, valid_from=dt.date(2026, 1, 1))

        flags = asset_licence_flags(assets=pair, on=TODAY)

        assert flags[a.pk] == ("expired", "restricted")
        assert flags[b.pk] == ("not_yet_valid", "unknown_terms")

    def test_a_licence_valid_today_is_not_flagged(self, pair):
        licence(pair[0].entries.get(), valid_from=TODAY, valid_until=TODAY)

        assert asset_licence_flags(assets=pair[:1], on=TODAY) == {pair[0].pk: ()}
