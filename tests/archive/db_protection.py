"""Lift the database's append-only triggers the way a database superuser would.

Tests that tamper with the audit log behind the application's back, and the flush that
ends every transactional test, need the triggers out of the way for a moment.
"""

from contextlib import contextmanager

from django.db import connection

from archive.append_only import append_only_tables

TABLES = append_only_tables()


def _sqlite_triggers(cursor, column: str) -> list[str]:
    marks = ", ".join(["%s"] * len(TABLES))
    cursor.execute(
        f"SELECT {column} FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks})",  # noqa: S608
        TABLES,
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
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            try:
                yield
            finally:
                for table in TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        definitions = _sqlite_triggers(cursor, "sql")
        for name in _sqlite_triggers(cursor, "name"):
            cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            yield
        finally:
            for definition in definitions:
                cursor.execute(
                    definition.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)
                )
