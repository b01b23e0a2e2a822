"""Holds, their scope and catalogue entries are never deleted, and what was published is
never rewritten: the models refuse (ArchiveError) and so does the database (IntegrityError).
"""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, models, transaction

from archive.errors import ArchiveError
from archive.holds import legal_hold_place, legal_hold_release
from archive.models import CatalogueEntry, Collection, LegalHold
from archive.services import collection_get_or_create, record_save
from tests.archive.helpers import ingest_picture
from tests.archive.people import compliance_officer

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no TRUNCATE"
)

SCOPES = ["assets", "entries", "collections"]


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused_by_database(run, message: str):
    """run() is stopped by a trigger; the surrounding test transaction stays usable."""
    if connection.vendor == "postgresql":
        # TRUNCATE waits for no deferred foreign-key check: run pending ones now.
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match=message), transaction.atomic():
        run()


def refused_by_model(run, message: str = "scope never shrinks"):
    """run() raises ArchiveError. Django runs m2m changes in atomic(savepoint=False), so a
    refusal there dooms the surrounding transaction: a savepoint keeps the test's usable."""
    with pytest.raises(ArchiveError, match=message), transaction.atomic():
        run()


def raw_delete(queryset):
    """A delete below every model and queryset override, as a bulk tool would issue it."""
    return queryset._raw_delete(queryset.db)


def unchecked_update(queryset, **values):
    """QuerySet.update without the model's override, as a bug below the ORM would write."""
    return models.QuerySet.update(queryset, **values)


@pytest.fixture
def officer(db):
    return compliance_officer()


@pytest.fixture
def outcome(collection):
    return ingest_picture(collection=collection, colour="teal", published=True)


@pytest.fixture
def other(collection):
    return ingest_picture(collection=collection, colour="purple")


@pytest.fixture
def hold(outcome, other, officer):
    """A hold on two assets, two entries and two collections."""
    spare = collection_get_or_create(name="Spare")
    return legal_hold_place(
        matter_reference="M-1",
        reason="litigation",
        assets=[outcome.asset, other.asset],
        entries=[outcome.entry, other.entry],
        collections=[outcome.asset.collection, spare],
        actor=officer,
    )


def scope(hold, name: str):
    return getattr(hold, name)


def scope_ids(hold) -> dict[str, set[int]]:
    return {name: set(scope(hold, name).values_list("pk", flat=True)) for name in SCOPES}


class TestLegalHoldsAreNeverDeleted:
    def test_the_model_refuses(self, hold):
        with pytest.raises(ArchiveError, match="released, never deleted"):
            hold.delete()

        assert LegalHold.objects.filter(pk=hold.pk, released_at=None).exists()

    def test_the_queryset_refuses(self, hold):
        with pytest.raises(ArchiveError, match="released, never deleted"):
            LegalHold.objects.filter(pk=hold.pk).delete()
        with pytest.raises(ArchiveError, match="released, never deleted"):
            LegalHold.objects.all().delete()

        assert LegalHold.objects.count() == 1

    def test_the_database_refuses(self, hold):
        refused_by_database(
            lambda: sql("DELETE FROM archive_legalhold WHERE id = %s", [hold.pk]),
            "never deleted",
        )
        refused_by_database(lambda: raw_delete(LegalHold.objects.all()), "never deleted")

        assert LegalHold.objects.filter(pk=hold.pk).exists()

    @postgresql_only
    def test_truncate_is_refused(self, hold):
        refused_by_database(lambda: sql("TRUNCATE archive_legalhold CASCADE"), "never deleted")

    def test_a_release_is_still_an_update(self, hold, officer):
        legal_hold_release(hold=hold, reason="matter closed", actor=officer)

        assert LegalHold.objects.get(pk=hold.pk).is_active is False


class TestHoldScopeNeverShrinks:
    @pytest.mark.parametrize("name", SCOPES)
    def test_remove_clear_and_a_shrinking_set_are_refused(self, hold, name):
        before = scope_ids(hold)
        first = scope(hold, name).order_by("pk").first()

        refused_by_model(lambda: scope(hold, name).remove(first))
        refused_by_model(lambda: scope(hold, name).remove(first.pk))
        refused_by_model(scope(hold, name).clear)
        refused_by_model(lambda: scope(hold, name).set([first]))
        refused_by_model(lambda: scope(hold, name).set([first], clear=True))

        assert scope_ids(hold) == before

    @pytest.mark.parametrize("name", SCOPES)
    def test_the_reverse_side_is_refused_too(self, hold, name):
        held = scope(hold, name).order_by("pk").first()

        refused_by_model(lambda: held.legal_holds.remove(hold))
        refused_by_model(held.legal_holds.clear)
        refused_by_model(lambda: held.legal_holds.set([]))

        assert held.legal_holds.filter(pk=hold.pk).exists()

    @pytest.mark.parametrize("name", SCOPES)
    def test_the_database_refuses_deleting_scope_rows(self, hold, name):
        through = getattr(LegalHold, name).through
        table = through._meta.db_table

        refused_by_database(
            lambda: sql(f"DELETE FROM {table} WHERE legalhold_id = %s", [hold.pk]),  # noqa: S608
            "never deleted",
        )
        # The auto-created through model has no manager of its own to refuse with, and
        # deleting its rows sends no signal: the trigger is what stops these.
        refused_by_database(lambda: through.objects.filter(legalhold=hold).delete(), "never del")
        refused_by_database(lambda: raw_delete(through.objects.all()), "never deleted")

        assert through.objects.filter(legalhold=hold).count() == 2

    @postgresql_only
    @pytest.mark.parametrize("name", SCOPES)
    def test_truncating_scope_rows_is_refused(self, hold, name):
        table = getattr(LegalHold, name).through._meta.db_table

        refused_by_database(lambda: sql(f"TRUNCATE {table}"), "never deleted")

    def test_deleting_a_held_collection_is_refused(self, hold):
        """A collection nothing else points at would cascade its scope row away."""
        spare = Collection.objects.get(name="Spare")

        refused_by_database(spare.delete, "never deleted")

        assert hold.collections.filter(pk=spare.pk).exists()

    def test_placing_a_hold_and_widening_it_still_work(self, hold, collection):
        """A new hold's set() only adds; adding more scope to a hold lifts nothing."""
        extra = ingest_picture(collection=collection, colour="olive")

        hold.assets.add(extra.asset)
        hold.entries.set([*hold.entries.all(), extra.entry])
        hold.assets.remove()  # nothing named: nothing removed

        assert extra.asset.pk in scope_ids(hold)["assets"]
        assert extra.entry.pk in scope_ids(hold)["entries"]


class TestCatalogueEntriesAreNeverDeleted:
    def test_the_model_and_queryset_refuse(self, outcome):
        with pytest.raises(ArchiveError, match="cannot be deleted"):
            outcome.entry.delete()
        with pytest.raises(ArchiveError, match="cannot be deleted"):
            CatalogueEntry.objects.filter(pk=outcome.entry.pk).delete()
        with pytest.raises(ArchiveError, match="cannot be deleted"):
            outcome.asset.entries.all().delete()

        assert CatalogueEntry.objects.filter(pk=outcome.entry.pk).exists()

    def test_the_database_refuses(self, outcome):
        refused_by_database(
            lambda: sql("DELETE FROM archive_catalogueentry WHERE id = %s", [outcome.entry.pk]),
            "never deleted",
        )
        refused_by_database(lambda: raw_delete(CatalogueEntry.objects.all()), "never deleted")

        assert CatalogueEntry.objects.filter(pk=outcome.entry.pk).exists()

    @postgresql_only
    def test_truncate_is_refused(self, outcome):
        refused_by_database(lambda: sql("TRUNCATE archive_catalogueentry CASCADE"), "never deleted")


def rewrites(entry) -> dict[str, object]:
    """Every way to change or clear the recorded publication of a published entry."""
    later = entry.published_at + dt.timedelta(days=1)
    return {
        "other bytes": {"published_sha256": "c" * 64},
        "bytes cleared": {"published_sha256": "", "published": False},
        "other time": {"published_at": later},
        "time cleared": {"published_at": None, "published": False},
    }


REWRITES = ["other bytes", "bytes cleared", "other time", "time cleared"]


class TestPublishedBytesAreFixed:
    @pytest.mark.parametrize("rewrite", REWRITES)
    def test_save_refuses(self, outcome, rewrite):
        entry = CatalogueEntry.objects.get(pk=outcome.entry.pk)
        for name, value in rewrites(entry)[rewrite].items():
            setattr(entry, name, value)

        with pytest.raises(ArchiveError, match="never changes once recorded"):
            entry.save()
        with pytest.raises(ArchiveError, match="never changes once recorded"):
            record_save(obj=entry, actor=None)

        assert CatalogueEntry.objects.get(pk=entry.pk).published_sha256 == outcome.asset.sha256

    @pytest.mark.parametrize("rewrite", REWRITES)
    def test_queryset_update_refuses(self, outcome, rewrite):
        entries = CatalogueEntry.objects.filter(pk=outcome.entry.pk)

        with pytest.raises(ArchiveError, match="never changes once recorded"):
            entries.update(**rewrites(outcome.entry)[rewrite])

        assert entries.get().published_sha256 == outcome.asset.sha256

    @pytest.mark.parametrize("rewrite", REWRITES)
    def test_the_database_refuses(self, outcome, rewrite):
        entries = CatalogueEntry.objects.filter(pk=outcome.entry.pk)

        refused_by_database(
            lambda: unchecked_update(entries, **rewrites(outcome.entry)[rewrite]),
            "never change once set",
        )

        entry = entries.get()
        assert (entry.published_sha256, entry.published_at) == (
            outcome.asset.sha256,
            outcome.entry.published_at,
        )

    def test_raw_sql_is_refused(self, outcome):
        refused_by_database(
            lambda: sql(
                "UPDATE archive_catalogueentry SET published_sha256 = %s WHERE id = %s",
                ["d" * 64, outcome.entry.pk],
            ),
            "never change once set",
        )

    def test_a_refreshed_instance_compares_with_what_the_database_holds(self, outcome):
        entry = CatalogueEntry.objects.get(pk=outcome.entry.pk)
        entry.published_sha256 = "c" * 64
        entry.refresh_from_db()

        entry.title = "Renamed"
        entry.save()

        assert CatalogueEntry.objects.get(pk=entry.pk).title == "Renamed"

    def test_other_edits_of_a_published_entry_still_save(self, outcome):
        """A full save writes the recorded values again, unchanged: both layers allow it."""
        entry = CatalogueEntry.objects.get(pk=outcome.entry.pk)
        entry.title = "Renamed"
        entry.published = False

        record_save(obj=entry, actor=None)
        entry = CatalogueEntry.objects.get(pk=entry.pk)
        entry.description = "more"
        entry.save()
        CatalogueEntry.objects.filter(pk=entry.pk).update(title="Again")

        entry.refresh_from_db()
        assert (entry.title, entry.published_sha256) == ("Again", outcome.asset.sha256)
        assert entry.published_at == outcome.entry.published_at

    def test_publishing_an_unpublished_entry_records_once(self, other):
        entries = CatalogueEntry.objects.filter(pk=other.entry.pk)
        published_at = other.entry.created_at

        entries.update(
            published=True, published_at=published_at, published_sha256=other.asset.sha256
        )
        entry = entries.get()

        assert (entry.published_sha256, entry.published_at) == (other.asset.sha256, published_at)
        with pytest.raises(ArchiveError, match="never changes once recorded"):
            entries.update(published_sha256="e" * 64)
        refused_by_database(
            lambda: unchecked_update(entries, published_at=None, published=False),
            "never change once set",
        )
