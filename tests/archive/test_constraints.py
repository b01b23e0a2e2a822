"""Every database rule of the archive, tested both ways: full_clean and a raw write."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from archive.lifecycle import lifecycle_writes
from archive.models import (
    Asset,
    AssetSource,
    AuditChainHead,
    CatalogueEntry,
    LegalHold,
    Licence,
)
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


def refused_both_ways(obj, *, exclude=None):
    """The rule holds in Python (full_clean) and in the database (a raw save)."""
    with pytest.raises(ValidationError):
        obj.full_clean(exclude=exclude)
    # Assets are written only by the lifecycle: the raw save goes through its door.
    with pytest.raises(IntegrityError), transaction.atomic(), lifecycle_writes():
        obj.save()


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection, colour="teal").asset


def asset_copy(asset, **changes):
    fields = {
        "sha256": "b" * 64,
        "size": 10,
        "format": "JPEG",
        "width": 5,
        "height": 5,
        "storage_key": "k",
        "collection": asset.collection,
        "original_path": "x.jpg",
        "original_filename": "x.jpg",
    }
    return Asset(**{**fields, **changes})


class TestAssetConstraints:
    def test_one_live_asset_per_sha256(self, asset):
        refused_both_ways(asset_copy(asset, sha256=asset.sha256))

    def test_a_tombstone_may_share_the_sha256(self, asset):
        tombstone = asset_copy(asset, sha256=asset.sha256, state="purged", storage_key="")
        tombstone.full_clean()
        with lifecycle_writes():
            tombstone.save()

    def test_live_asset_needs_a_storage_key(self, asset):
        refused_both_ways(asset_copy(asset, storage_key=""))

    def test_dimensions_are_positive(self, asset):
        refused_both_ways(asset_copy(asset, width=0))

    def test_empty_files_are_not_assets(self, asset):
        refused_both_ways(asset_copy(asset, size=0))

    def test_only_derivatives_name_a_source(self, asset):
        refused_both_ways(asset_copy(asset, derived_from=asset, role="original"))

    def test_an_asset_is_not_derived_from_itself(self, asset):
        asset.role, asset.derived_from = Asset.Role.DERIVATIVE, asset
        refused_both_ways(asset)

    def test_state_and_tier_are_known_values(self, asset):
        refused_both_ways(asset_copy(asset, state="lost"))
        refused_both_ways(asset_copy(asset, storage_alias="tape"))


def test_a_source_path_records_the_same_bytes_once(asset):
    source = asset.sources.get()
    refused_both_ways(AssetSource(asset=asset, collection=source.collection, path=source.path))


class TestEntryConstraints:
    def test_accession_numbers_are_unique_when_given(self, asset):
        CatalogueEntry.objects.create(
            asset=asset, collection=asset.collection, title="a", accession_number="AC-1"
        )
        blank = CatalogueEntry(asset=asset, collection=asset.collection, title="b")
        blank.full_clean()  # blank numbers never clash
        refused_both_ways(
            CatalogueEntry(
                asset=asset, collection=asset.collection, title="c", accession_number="AC-1"
            )
        )

    def test_dates_are_ordered(self, asset):
        refused_both_ways(
            CatalogueEntry(
                asset=asset,
                collection=asset.collection,
                title="d",
                date_start=dt.date(2020, 1, 2),
                date_end=dt.date(2020, 1, 1),
            )
        )

    def test_published_entry_records_when_and_which_bytes(self, asset):
        refused_both_ways(
            CatalogueEntry(
                asset=asset,
                collection=asset.collection,
                title="p",
                published=True,
                published_at=timezone.now(),
            )
        )


def test_licence_validity_is_ordered(asset):
    entry = asset.entries.get()
    refused_both_ways(
        Licence(
            entry=entry,
            holder="Agency",
            valid_from=dt.date(2024, 1, 1),
            valid_until=dt.date(2023, 1, 1),
        )
    )


class TestLegalHoldConstraints:
    def test_a_hold_needs_a_reason(self, user):
        refused_both_ways(LegalHold(matter_reference="M-1", reason="", placed_by=user))

    def test_a_release_records_who_and_why(self, user):
        hold = LegalHold(
            matter_reference="M-1", reason="litigation", placed_by=user, released_at=timezone.now()
        )
        refused_both_ways(hold)


def test_the_audit_chain_has_one_head(db):
    refused_both_ways(AuditChainHead(id=2))
