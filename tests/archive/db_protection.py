"""Lift the database's append-only triggers the way a database superuser would.

Tests that tamper with the audit log behind the application's back, and the flush that
ends every transactional test, need the triggers out of the way for a moment.
"""

from contextlib import contextmanager

from django.db import connection

from archive.append_only import ASSET_TABLE, AUDIT_TABLE


def _sqlite_triggers() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
            [AUDIT_TABLE, ASSET_TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


@contextmanager
def append_only_lifted():
    """Disable (PostgreSQL) or drop and re-create (SQLite) the refusing triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses while deferred foreign-key checks are pending: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in (AUDIT_TABLE, ASSET_TABLE):
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            try:
                yield
            finally:
                for table in (AUDIT_TABLE, ASSET_TABLE):
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        definitions = _sqlite_triggers()
        with connection.cursor() as drop:
            drop.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                [AUDIT_TABLE, ASSET_TABLE],
            )
            for (name,) in drop.fetchall():
                cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            yield
        finally:
            for definition in definitions:
                cursor.execute(
                    definition.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)
                )
