"""The database itself refuses edits to audit events and deleting protected rows (both vendors)."""

import pytest
from django.db import IntegrityError, connection, transaction

from archive.append_only import append_only_trigger_names, post_migrate_append_only_reinstall
from archive.audit import audit_record, audit_verify
from archive.models import Asset, AuditChainHead, AuditEvent
from tests.archive.db_protection import append_only_lifted
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no TRUNCATE"
)


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(statement: str, message: str):
    if connection.vendor == "postgresql":
        # TRUNCATE and DDL wait for no deferred foreign-key check: run pending ones now.
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(IntegrityError, match=message), transaction.atomic():
        sql(statement)


@pytest.fixture
def events():
    for n in range(3):
        with transaction.atomic():
            audit_record(actor=None, verb="test.event", object_type="thing", object_id=n)
    return list(AuditEvent.objects.values_list("hash", flat=True))


@pytest.fixture
def asset(collection):
    return ingest_picture(collection=collection).asset


class TestAuditEventsAreAppendOnly:
    def test_update_is_refused(self, events):
        refused("UPDATE archive_auditevent SET reason = 'x' WHERE sequence = 2", "append-only")

        assert list(AuditEvent.objects.values_list("hash", flat=True)) == events
        assert audit_verify().ok is True

    def test_reordering_by_update_is_refused(self, events):
        refused("UPDATE archive_auditevent SET sequence = sequence + 100", "append-only")

    def test_delete_is_refused(self, events):
        refused("DELETE FROM archive_auditevent WHERE sequence = 3", "append-only")
        refused("DELETE FROM archive_auditevent", "append-only")

        assert AuditEvent.objects.count() == 3

    @postgresql_only
    def test_truncate_is_refused(self, events):
        refused("TRUNCATE archive_auditevent", "append-only")

    def test_inserting_still_works_and_the_head_still_moves(self, events):
        with transaction.atomic():
            audit_record(actor=None, verb="test.event", object_type="thing", object_id=9)

        assert AuditChainHead.objects.get().last_sequence == 4
        assert audit_verify().ok is True


class TestAssetsAreNeverDeleted:
    def test_delete_is_refused(self, asset):
        refused(f"DELETE FROM archive_asset WHERE id = {int(asset.pk)}", "never deleted")  # noqa: S608

        assert Asset.objects.filter(pk=asset.pk).exists()

    @postgresql_only
    def test_truncate_is_refused(self, asset):
        refused("TRUNCATE archive_asset CASCADE", "never deleted")

    def test_updates_are_allowed(self, asset):
        sql("UPDATE archive_asset SET storage_alias = 'cold' WHERE id = %s", [asset.pk])

        asset.refresh_from_db()
        assert asset.storage_alias == "cold"


class TestLiftingTheProtection:
    def test_a_superuser_style_lift_allows_edits_and_is_restored_after(self, events):
        with append_only_lifted():
            sql("UPDATE archive_auditevent SET reason = 'x' WHERE sequence = 2")

        assert audit_verify().problem.sequence == 2
        refused("UPDATE archive_auditevent SET reason = 'y' WHERE sequence = 2", "append-only")

    def test_migrate_puts_missing_triggers_back(self, events):
        """SQLite drops a table's triggers when a migration rebuilds the table."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("DROP TRIGGER keepsake_auditevent_no_update ON archive_auditevent")
            else:
                cursor.execute("DROP TRIGGER keepsake_auditevent_no_update")
        sql("UPDATE archive_auditevent SET reason = 'unguarded' WHERE sequence = 1")

        post_migrate_append_only_reinstall(sender=None, using=connection.alias)

        refused("UPDATE archive_auditevent SET reason = 'x' WHERE sequence = 2", "append-only")

    @pytest.mark.parametrize(
        ("name", "table"),
        [
            ("keepsake_entry_no_delete", "archive_catalogueentry"),
            ("keepsake_legalhold_assets_no_delete", "archive_legalhold_assets"),
            ("keepsake_quarantinerecord_no_delete", "retention_quarantinerecord"),
        ],
    )
    def test_migrate_puts_the_triggers_of_every_app_back(self, name, table):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                f"DROP TRIGGER {name}{' ON ' + table if connection.vendor == 'postgresql' else ''}"
            )
        assert name not in installed_triggers()

        post_migrate_append_only_reinstall(sender=None, using=connection.alias)

        assert name in installed_triggers()


def installed_triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


def test_migrate_installed_every_trigger(db):
    expected = set(append_only_trigger_names())
    if connection.vendor == "sqlite":
        expected = {name for name in expected if not name.endswith("_truncate")}
    assert expected <= installed_triggers()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_can_hold_every_protected_row(collection, user):
    """The flush ending this test empties the protected tables (on PostgreSQL it truncates
    every one, empty or not) and puts the triggers back: the next test checks."""
    from archive.holds import legal_hold_place
    from tests.archive.people import compliance_officer

    outcome = ingest_picture(collection=collection, published=True)
    legal_hold_place(
        matter_reference="M-9",
        reason="litigation",
        assets=[outcome.asset],
        entries=[outcome.entry],
        collections=[collection],
        actor=compliance_officer(),
    )


@pytest.mark.django_db(transaction=True)
def test_the_triggers_survive_a_transactional_flush(asset):
    test_migrate_installed_every_trigger(None)
    refused(f"DELETE FROM archive_catalogueentry WHERE asset_id = {int(asset.pk)}", "never")  # noqa: S608
