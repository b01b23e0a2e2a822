"""Quarantine records and disposition items are never deleted, and a tombstone stays one:
the models refuse (ArchiveError) and so does the database (IntegrityError)."""

import pytest
from django.db import IntegrityError, connection, transaction

from archive.errors import ArchiveError
from archive.lifecycle import lifecycle_writes
from archive.models import Asset
from retention.models import DispositionItem, QuarantineRecord
from retention.purge import disposition_execute

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no TRUNCATE"
)


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused_by_model(run, message: str):
    with pytest.raises(ArchiveError, match=message), transaction.atomic():
        run()


def refused_by_database(run, message: str):
    if connection.vendor == "postgresql":
        # TRUNCATE waits for no deferred foreign-key check: run pending ones now.
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match=message), transaction.atomic():
        run()


def raw_delete(queryset):
    """A delete below every model and queryset override, as a bulk tool would issue it."""
    return queryset._raw_delete(queryset.db)


@pytest.fixture
def record(quarantined):
    return QuarantineRecord.objects.get(asset=quarantined)


@pytest.fixture
def item(approved):
    return approved.items.get()


@pytest.fixture
def tombstone(approved, approver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        disposition_execute(request=approved, actor=approver)
    asset = approved.items.get().asset
    assert asset.state == Asset.State.PURGED
    return asset


class TestQuarantineRecordsAreNeverDeleted:
    def test_the_model_and_queryset_refuse(self, record):
        refused_by_model(record.delete, "Quarantine records cannot be deleted")
        refused_by_model(
            QuarantineRecord.objects.filter(pk=record.pk).delete,
            "Quarantine records cannot be deleted",
        )
        refused_by_model(
            record.asset.quarantines.all().delete, "Quarantine records cannot be deleted"
        )

        assert QuarantineRecord.objects.filter(pk=record.pk).exists()

    def test_the_database_refuses(self, record):
        refused_by_database(
            lambda: sql("DELETE FROM retention_quarantinerecord WHERE id = %s", [record.pk]),
            "quarantine records are never deleted",
        )
        refused_by_database(
            lambda: raw_delete(QuarantineRecord.objects.all()), "quarantine records are never"
        )

        assert QuarantineRecord.objects.filter(pk=record.pk).exists()

    @postgresql_only
    def test_truncate_is_refused(self, record):
        refused_by_database(
            lambda: sql("TRUNCATE retention_quarantinerecord CASCADE"), "never deleted"
        )


class TestDispositionItemsAreNeverDeleted:
    def test_the_model_and_queryset_refuse(self, item):
        message = "Disposition items cannot be deleted"
        refused_by_model(item.delete, message)
        refused_by_model(DispositionItem.objects.filter(pk=item.pk).delete, message)
        refused_by_model(item.request.items.all().delete, message)

        assert DispositionItem.objects.filter(pk=item.pk).exists()

    def test_the_request_cannot_drop_its_assets(self, item):
        """The request's many-to-many runs through DispositionItem's own queryset."""
        message = "Disposition items cannot be deleted"
        refused_by_model(lambda: item.request.assets.remove(item.asset), message)
        refused_by_model(item.request.assets.clear, message)
        refused_by_model(lambda: item.request.assets.set([]), message)

        assert DispositionItem.objects.filter(pk=item.pk).exists()

    def test_the_database_refuses(self, item):
        refused_by_database(
            lambda: sql("DELETE FROM retention_dispositionitem WHERE id = %s", [item.pk]),
            "disposition items are never deleted",
        )
        refused_by_database(
            lambda: raw_delete(DispositionItem.objects.all()), "disposition items are never"
        )

        assert DispositionItem.objects.filter(pk=item.pk).exists()

    @postgresql_only
    def test_truncate_is_refused(self, item):
        refused_by_database(
            lambda: sql("TRUNCATE retention_dispositionitem CASCADE"), "never deleted"
        )


class TestATombstoneStaysPurged:
    @pytest.mark.parametrize("state", ["active", "quarantined"])
    def test_the_database_refuses_a_new_state(self, tombstone, state):
        refused_by_database(
            lambda: sql("UPDATE archive_asset SET state = %s WHERE id = %s", [state, tombstone.pk]),
            "tombstone",
        )

        def revive():
            # Even the lifecycle's own write path cannot: the trigger sits below it.
            with lifecycle_writes():
                Asset.objects.filter(pk=tombstone.pk).update(state=state)

        refused_by_database(revive, "tombstone")

        tombstone.refresh_from_db()
        assert tombstone.state == Asset.State.PURGED

    def test_other_columns_of_a_tombstone_may_change(self, tombstone):
        sql("UPDATE archive_asset SET exif = %s WHERE id = %s", ["{}", tombstone.pk])
        sql("UPDATE archive_asset SET state = 'purged' WHERE id = %s", [tombstone.pk])

        tombstone.refresh_from_db()
        assert (tombstone.state, tombstone.exif) == (Asset.State.PURGED, {})

    def test_live_assets_still_change_state(self, asset):
        sql("UPDATE archive_asset SET state = 'quarantined' WHERE id = %s", [asset.pk])

        asset.refresh_from_db()
        assert asset.state == Asset.State.QUARANTINED
