"""Database-level refusal of edits to the audit log and of deleting assets.

The models already refuse these writes, but raw SQL, a bulk tool or a bug below the ORM
would not ask them. Triggers make the database itself refuse: UPDATE, DELETE and TRUNCATE
of `archive_auditevent`, and DELETE and TRUNCATE of `archive_asset` (retention keeps
tombstones, so an asset row never needs deleting). Both vendors report the refusal as an
IntegrityError.

The migration installs them; `append_only_install` runs again after every `migrate`
because SQLite rebuilds a table (dropping its triggers) whenever a migration alters it in
a way ALTER TABLE cannot. A database superuser, or on PostgreSQL the table owner, can
still disable them: run the application as a role that owns no tables (and is granted
only SELECT and INSERT on the audit table) for a guarantee against the application itself.
"""

AUDIT_TABLE = "archive_auditevent"
ASSET_TABLE = "archive_asset"
MIGRATION = ("archive", "0003_append_only_triggers")

AUDIT_MESSAGE = "audit events are append-only"
ASSET_MESSAGE = "assets are never deleted; removal goes through retention"

# name -> (table, timing, message); row-level unless the event is TRUNCATE.
_TRIGGERS = {
    "keepsake_auditevent_no_update": (AUDIT_TABLE, "UPDATE", AUDIT_MESSAGE),
    "keepsake_auditevent_no_delete": (AUDIT_TABLE, "DELETE", AUDIT_MESSAGE),
    "keepsake_auditevent_no_truncate": (AUDIT_TABLE, "TRUNCATE", AUDIT_MESSAGE),
    "keepsake_asset_no_delete": (ASSET_TABLE, "DELETE", ASSET_MESSAGE),
    "keepsake_asset_no_truncate": (ASSET_TABLE, "TRUNCATE", ASSET_MESSAGE),
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


def _postgresql_statements(existing: set[str]) -> list[str]:
    statements = [_PG_FUNCTION]
    for name, (table, event, message) in _TRIGGERS.items():
        if name in existing:
            # Left as found: a trigger a superuser disabled on purpose stays disabled.
            continue
        level = "STATEMENT" if event == "TRUNCATE" else "ROW"
        statements.append(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH {level} "
            f"EXECUTE FUNCTION keepsake_refuse_change('{message}')"
        )
    return statements


def _postgresql_existing(connection) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s)", [list(_TRIGGERS)])
        return {row[0] for row in cursor.fetchall()}


def _sqlite_statements() -> list[str]:
    # SQLite has no TRUNCATE: "DELETE FROM t" without WHERE fires the row triggers too.
    return [
        f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {event} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        for name, (table, event, message) in _TRIGGERS.items()
        if event != "TRUNCATE"
    ]


def append_only_install(*, connection) -> None:
    """Create the refusing triggers (idempotent) on PostgreSQL or SQLite."""
    if connection.vendor == "postgresql":
        statements = _postgresql_statements(_postgresql_existing(connection))
    elif connection.vendor == "sqlite":
        statements = _sqlite_statements()
    else:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            # No parameters: the plpgsql body's '%' must reach the server untouched.
            cursor.execute(statement)


def append_only_uninstall(*, connection) -> None:
    """Drop the refusing triggers again (the migration's reverse)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        return
    with connection.cursor() as cursor:
        for name, (table, _event, _message) in _TRIGGERS.items():
            on_table = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on_table}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS keepsake_refuse_change()")


def append_only_trigger_names() -> list[str]:
    return list(_TRIGGERS)


def post_migrate_append_only_reinstall(sender, using, plan=None, **kwargs):
    """Put the triggers back after migrations that rebuilt a protected table (SQLite)."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    if MIGRATION not in MigrationRecorder(connection).applied_migrations():
        return
    append_only_install(connection=connection)
