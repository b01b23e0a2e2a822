"""Crash after every durable side effect, not only at the named crash points.

Whatever a process does between two durable effects is lost when it dies, so the states a
crash can leave behind are exactly "the first k durable effects happened, the rest did
not" (plus a file write torn half way). The durable effects of these services are:

- a database commit (the end of an outermost transaction, or a write statement run in
  autocommit mode outside any transaction);
- a file written into a storage tier (possibly torn: the power failed mid-write, so a
  truncated file sits under the final name);
- a file deleted from a storage tier.

`durable_steps(crash_after=k)` counts them in the current (forked) process and dies with
the crash exit code right after the k-th; `torn=True` instead writes only half of the
k-th file (when the k-th effect is a write) before dying. A run with crash_after=0
only records the effects (also into the KEEPSAKE_CRASH_RECORD file, between the named
points), which is how a test learns them.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from archive.faults import CRASH_EXIT_CODE

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


# A line in the KEEPSAKE_CRASH_RECORD file that is an effect, not a named crash point.
EFFECT_MARK = "effect: "


@dataclass
class StepLog:
    crash_after: int
    torn: bool = False
    effects: list[str] = field(default_factory=list)

    def effect(self, description: str) -> None:
        self.effects.append(description)
        record = os.environ.get("KEEPSAKE_CRASH_RECORD")
        if record:
            # Interleaved with the named points archive.faults records, in order.
            with open(record, "a", encoding="utf-8") as fp:
                fp.write(EFFECT_MARK + description + "\n")
        if self.crash_after and len(self.effects) >= self.crash_after:
            os._exit(CRASH_EXIT_CODE)

    def tears_next(self) -> bool:
        return self.torn and bool(self.crash_after) and len(self.effects) + 1 == self.crash_after


def _statement(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper()
    table = (words[1] if verb == "UPDATE" else words[2]).strip('"')
    return f"{verb} {table}"


def _tier(storage: FileSystemStorage) -> str:
    return os.path.basename(os.path.normpath(storage.location))


def _torn_write(storage: FileSystemStorage, name: str, content) -> None:
    """Leave a truncated file under the final name, as a power cut mid-write would."""
    path = storage.path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    content.seek(0)
    data = content.read()
    with open(path, "wb") as fp:
        fp.write(data[: max(1, len(data) // 2)])
    os._exit(CRASH_EXIT_CODE)


@contextmanager
def durable_steps(*, crash_after: int, torn: bool = False):
    """Count (and crash after the k-th of) commits, file writes and file deletions."""
    log = StepLog(crash_after=crash_after, torn=torn)
    real_commit, real_save, real_delete = (
        BaseDatabaseWrapper.commit,
        FileSystemStorage._save,
        FileSystemStorage.delete,
    )

    def commit(self):
        real_commit(self)
        log.effect("commit")

    def save(self, name, content):
        if log.tears_next():
            _torn_write(self, name, content)
        stored = real_save(self, name, content)
        log.effect(f"write {_tier(self)}:{stored}")
        return stored

    def delete(self, name):
        existed = self.exists(name)
        real_delete(self, name)
        if existed:
            log.effect(f"delete {_tier(self)}:{name}")

    def autocommit_writes(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        conn = context["connection"]
        if not conn.in_atomic_block and sql.lstrip().upper().startswith(WRITE_VERBS):
            log.effect("autocommit " + _statement(sql))
        return result

    BaseDatabaseWrapper.commit = commit
    FileSystemStorage._save = save
    FileSystemStorage.delete = delete
    try:
        with connection.execute_wrapper(autocommit_writes):
            yield log
    finally:
        BaseDatabaseWrapper.commit = real_commit
        FileSystemStorage._save = real_save
        FileSystemStorage.delete = real_delete
