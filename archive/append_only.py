"""Database-level refusal of edits to the audit log and of erasing records the guard reads.

The models already refuse these writes, but raw SQL, a bulk tool or a bug below the ORM
would not ask them. Triggers make the database itself refuse:
- UPDATE, DELETE and TRUNCATE of `archive_auditevent`;
- DELETE and TRUNCATE of `archive_asset` (retention keeps tombstones, so an asset row never
  needs deleting), and any change of a tombstone's state (a purged asset stays purged);
- DELETE and TRUNCATE of legal holds and of their scope rows (the many-to-many tables):
  a hold ends by being released, an audited update, never by disappearing;
- DELETE and TRUNCATE of catalogue entries, and any change of `published_sha256` or
  `published_at` once set (invariant 2 rests on them);
- DELETE and TRUNCATE of quarantine records and disposition items (retention's evidence).
Both vendors report the refusal as an IntegrityError.

Each group of triggers belongs to the migration that installs it (a later group names
tables a migration of another app creates); `append_only_install` runs again after every
`migrate` for each group whose migration is applied, because SQLite rebuilds a table
(dropping its triggers) whenever a migration alters it in a way ALTER TABLE cannot. A
database superuser, or on PostgreSQL the table owner, can still disable them: run the
application as a role that owns no tables (and is granted only SELECT and INSERT on the
audit table) for a guarantee against the application itself.
"""

AUDIT_TABLE = "archive_auditevent"
ASSET_TABLE = "archive_asset"
HOLD_TABLE = "archive_legalhold"
HOLD_SCOPE_TABLES = (
    "archive_legalhold_assets",
    "archive_legalhold_entries",
    "archive_legalhold_collections",
)
ENTRY_TABLE = "archive_catalogueentry"
QUARANTINE_TABLE = "retention_quarantinerecord"
DISPOSITION_ITEM_TABLE = "retention_dispositionitem"

MIGRATION = ("archive", "0003_append_only_triggers")
RECORDS_MIGRATION = ("archive", "0006_records_undeletable")
RETENTION_MIGRATION = ("retention", "0003_records_undeletable")

AUDIT_MESSAGE = "audit events are append-only"
ASSET_MESSAGE = "assets are never deleted; removal goes through retention"
TOMBSTONE_MESSAGE = "a purged asset is a tombstone; its state never changes again"
HOLD_MESSAGE = "legal holds and their scope are never deleted; a hold is released"
ENTRY_MESSAGE = "catalogue entries are never deleted"
PUBLISHED_MESSAGE = "published_sha256 and published_at never change once set"
QUARANTINE_MESSAGE = "quarantine records are never deleted"
DISPOSITION_MESSAGE = "disposition items are never deleted"

# In conditions, {distinct} is the vendor's null-safe "differs" (SQLite: IS NOT).
_PUBLISHED_CHANGED = (
    "(OLD.published_sha256 <> '' AND NEW.published_sha256 {distinct} OLD.published_sha256)"
    " OR (OLD.published_at IS NOT NULL AND NEW.published_at {distinct} OLD.published_at)"
)
_TOMBSTONE_CHANGED = "OLD.state = 'purged' AND NEW.state {distinct} OLD.state"


def _undeletable(prefix: str, table: str, message: str) -> dict:
    return {
        f"keepsake_{prefix}_no_delete": (table, "DELETE", message, None),
        f"keepsake_{prefix}_no_truncate": (table, "TRUNCATE", message, None),
    }


# migration -> {name: (table, event, message, condition)}; row-level unless TRUNCATE.
_GROUPS = {
    MIGRATION: {
        "keepsake_auditevent_no_update": (AUDIT_TABLE, "UPDATE", AUDIT_MESSAGE, None),
        **_undeletable("auditevent", AUDIT_TABLE, AUDIT_MESSAGE),
        **_undeletable("asset", ASSET_TABLE, ASSET_MESSAGE),
    },
    RECORDS_MIGRATION: {
        "keepsake_asset_tombstone_final": (
            ASSET_TABLE,
            "UPDATE",
            TOMBSTONE_MESSAGE,
            _TOMBSTONE_CHANGED,
        ),
        **_undeletable("legalhold", HOLD_TABLE, HOLD_MESSAGE),
        **{
            name: trigger
            for table in HOLD_SCOPE_TABLES
            for name, trigger in _undeletable(
                table.removeprefix("archive_"), table, HOLD_MESSAGE
            ).items()
        },
        **_undeletable("entry", ENTRY_TABLE, ENTRY_MESSAGE),
        "keepsake_entry_published_fixed": (
            ENTRY_TABLE,
            "UPDATE",
            PUBLISHED_MESSAGE,
            _PUBLISHED_CHANGED,
        ),
    },
    RETENTION_MIGRATION: {
        **_undeletable("quarantinerecord", QUARANTINE_TABLE, QUARANTINE_MESSAGE),
        **_undeletable("dispositionitem", DISPOSITION_ITEM_TABLE, DISPOSITION_MESSAGE),
    },
}

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION keepsake_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- 23001 restrict_violation: drivers report it as an integrity error.
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = '23001';
END;
$$
"""


def _postgresql_statements(triggers: dict, existing: set[str]) -> list[str]:
    statements = [_PG_FUNCTION]
    for name, (table, event, message, condition) in triggers.items():
        if name in existing:
            # Left as found: a trigger a superuser disabled on purpose stays disabled.
            continue
        level = "STATEMENT" if event == "TRUNCATE" else "ROW"
        when = f" WHEN ({condition.format(distinct='IS DISTINCT FROM')})" if condition else ""
        statements.append(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH {level}{when} "
            f"EXECUTE FUNCTION keepsake_refuse_change('{message}')"
        )
    return statements


def _postgresql_existing(connection, triggers: dict) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s)", [list(triggers)])
        return {row[0] for row in cursor.fetchall()}


def _sqlite_statements(triggers: dict) -> list[str]:
    # SQLite has no TRUNCATE: "DELETE FROM t" without WHERE fires the row triggers too.
    statements = []
    for name, (table, event, message, condition) in triggers.items():
        if event == "TRUNCATE":
            continue
        when = f" WHEN {condition.format(distinct='IS NOT')}" if condition else ""
        statements.append(
            f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON {table} FOR EACH ROW{when} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
    return statements


def append_only_install(*, connection, migration=MIGRATION) -> None:
    """Create the refusing triggers of one migration (idempotent) on PostgreSQL or SQLite."""
    triggers = _GROUPS[migration]
    if connection.vendor == "postgresql":
        statements = _postgresql_statements(triggers, _postgresql_existing(connection, triggers))
    elif connection.vendor == "sqlite":
        statements = _sqlite_statements(triggers)
    else:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            # No parameters: the plpgsql body's '%' must reach the server untouched.
            cursor.execute(statement)


def append_only_uninstall(*, connection, migration=MIGRATION) -> None:
    """Drop the refusing triggers of one migration again (the migration's reverse)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    with connection.cursor() as cursor:
        for name, (table, *_rest) in _GROUPS[migration].items():
            on_table = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on_table}")
        # The function is shared; the first migration's reverse runs after the others'.
        if connection.vendor == "postgresql" and migration == MIGRATION:
            cursor.execute("DROP FUNCTION IF EXISTS keepsake_refuse_change()")


def append_only_trigger_names() -> list[str]:
    return [name for triggers in _GROUPS.values() for name in triggers]


def append_only_tables() -> list[str]:
    """Every table with a refusing trigger, for tools that must lift them (test flushes)."""
    tables = {table for triggers in _GROUPS.values() for table, *_rest in triggers.values()}
    return sorted(tables)


def post_migrate_append_only_reinstall(sender, using, plan=None, **kwargs):
    """Put the triggers back after migrations that rebuilt a protected table (SQLite)."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    applied = MigrationRecorder(connection).applied_migrations()
    for migration in _GROUPS:
        if migration in applied:
            append_only_install(connection=connection, migration=migration)
