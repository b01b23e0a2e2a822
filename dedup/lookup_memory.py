"""The main-pHash lookup from an in-memory index, for processes that look up often.

At millions of fingerprints the database index reads ~N / 65,536 rows per probe (dedup.index),
so a lookup at 10 M costs ~25 ms. A process past KEEPSAKE_LOOKUP_MEMORY_FROM
fingerprints loads them once into a dedup.codeindex.CodeIndex and answers from memory; the
database still has the last word:

- covered_at: the index holds every fingerprint whose last change committed before
  covered_at (the load, then each catch-up, reads what changed since the previous one);
- each lookup reads from the database the rows changed since covered_at - SLACK (an
  indexed range of computed_at: seconds of ingest) and re-reads the rows the index found,
  so a fingerprint deleted, replaced or made unsearchable since is dropped and the
  distance returned is always the stored one.

A change is seen by every later lookup as long as it commits within SLACK of its
computed_at (fingerprint_store sets it just before its short transaction; SLACK also
covers clock skew between machines). The rolling scan re-checks every new fingerprint,
as it does for two near duplicates ingested at the same moment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

from dedup.codeindex import CodeIndex
from dedup.imaging import signed64

# Catch up with the changes at most this often; each lookup reads the rest itself.
REFRESH_EVERY = timedelta(seconds=15)
# Rebuild the whole index when the changes read since it was built pass this share of it.
REBUILD_SHARE = 0.05
REBUILD_MIN = 100_000
# How often a process below the threshold looks at the table size again.
RECHECK_EVERY = 600.0
_SEARCHABLE = "f.low_information = %s AND f.error = ''"


def slack() -> timedelta:
    return timedelta(seconds=settings.KEEPSAKE_LOOKUP_MEMORY_SLACK_SECONDS)


def _now() -> datetime:
    return timezone.now()


@dataclass(frozen=True)
class _State:
    k: int
    base: CodeIndex
    covered_at: datetime
    refreshed_at: datetime
    delta_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    delta_codes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def candidates(self, *, phash: int, k: int) -> np.ndarray:
        ids, _ = self.base.near(code=phash, k=k)
        if self.delta_ids.size:
            close = np.bitwise_count(self.delta_codes ^ np.uint64(phash)) <= k
            ids = np.concatenate([ids, self.delta_ids[close]])
        return ids


_lock = threading.Lock()
_state: _State | None = None
_checked: tuple[float, bool] | None = None


def memory_lookup_reset() -> None:
    """Forget this process's index (tests; a process that switches databases)."""
    global _state, _checked
    with _lock:
        _state, _checked = None, None


def memory_lookup_stats() -> dict:
    """What this process holds: {size, changes, bytes, covered_at} or {} when no index."""
    state = _state
    if state is None:
        return {}
    return {
        "size": state.base.size,
        "changes": int(state.delta_ids.size),
        "bytes": state.base.nbytes + state.delta_ids.nbytes + state.delta_codes.nbytes,
        "covered_at": state.covered_at,
    }


def _reaches(threshold: int) -> bool:
    """Whether the table holds at least threshold fingerprints: a count that stops there
    (the planner's estimate is -1 or stale until the table is analysed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM dedup_fingerprint LIMIT %s) AS head",
            [threshold],
        )
        return int(cursor.fetchone()[0]) >= threshold


def _wanted() -> bool:
    global _checked
    threshold = settings.KEEPSAKE_LOOKUP_MEMORY_FROM
    if threshold <= 0:
        return False
    now = time.monotonic()
    if _checked is None or now - _checked[0] > RECHECK_EVERY:
        _checked = (now, _reaches(threshold))
    return _checked[1]


def _changed_rows(since: datetime | None) -> tuple[np.ndarray, np.ndarray]:
    """(asset ids, unsigned pHashes) of the searchable fingerprints computed after since."""
    condition, params = _SEARCHABLE, [False]
    if since is not None:
        condition += " AND f.computed_at > %s"
        params.append(connection.ops.adapt_datetimefield_value(since))
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT f.asset_id, f.phash FROM dedup_fingerprint f WHERE {condition}",  # noqa: S608
                params,
            )
            table = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        return np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1]).view(np.uint64)
    # Ten million rows arrive as one binary COPY stream parsed by numpy, not as tuples.
    sql = f"SELECT f.asset_id::bigint, f.phash FROM dedup_fingerprint f WHERE {condition}"  # noqa: S608
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)", params) as copy:
            data = bytearray()
            for chunk in copy:
                data += chunk  # 26 bytes a row: 260 MB at 10 M, freed once parsed
    return _parse_binary_copy(data)


# PostgreSQL's binary COPY: an 19-byte header, then per row a 16-bit field count and each
# field as a 32-bit length and its bytes (here two bigints), then a 16-bit -1.
_COPY_HEADER = 19
_ROW = np.dtype([("n", ">i2"), ("la", ">i4"), ("a", ">i8"), ("lb", ">i4"), ("b", ">i8")])


def _parse_binary_copy(data: bytes | bytearray) -> tuple[np.ndarray, np.ndarray]:
    if not data.startswith(b"PGCOPY\n\xff\r\n\x00"):
        raise ValueError("not a PostgreSQL binary COPY stream")
    body = memoryview(data)[_COPY_HEADER:-2]  # a view: no copy of the stream
    rows = np.frombuffer(body, dtype=_ROW)
    layout = (rows["n"] == 2) & (rows["la"] == 8) & (rows["lb"] == 8)
    if not layout.all():
        raise ValueError("unexpected row layout in the COPY stream")
    return rows["a"].astype(np.int64), rows["b"].astype(np.int64).view(np.uint64)


def _build(k: int) -> _State:
    covered_at = _now()  # before the read: whatever commits during it is read again later
    ids, codes = _changed_rows(None)
    return _State(
        k=k,
        base=CodeIndex(ids=ids, codes=codes, k=k),
        covered_at=covered_at,
        refreshed_at=covered_at,
    )


def _catch_up(state: _State) -> _State:
    started = _now()
    ids, codes = _changed_rows(state.covered_at - slack())
    # Each read overlaps the last by the slack: keep one entry per asset, the latest.
    older = ~np.isin(state.delta_ids, ids)
    changes = int(older.sum()) + ids.size
    if changes > max(REBUILD_MIN, REBUILD_SHARE * state.base.size):
        return _build(state.k)
    # A new state, never a changed one: other threads may be searching the old one.
    return replace(
        state,
        delta_ids=np.concatenate([state.delta_ids[older], ids]),
        delta_codes=np.concatenate([state.delta_codes[older], codes]),
        covered_at=started,
        refreshed_at=started,
    )


def _current(index_k: int) -> _State | None:
    """This process's index, loaded or caught up as needed; None to use the database."""
    global _state
    if not _wanted():
        return None
    with _lock:
        state = _state
        # A load or catch-up is one statement: at READ COMMITTED (the project's level)
        # its snapshot starts after covered_at, inside a transaction or not.
        if state is None:
            state = _build(index_k)
        elif _now() - state.refreshed_at >= REFRESH_EVERY:
            state = _catch_up(state)
        _state = state
        return state


def _distance_sql() -> str:
    if connection.vendor == "postgresql":
        return "bit_count((f.phash # %s)::bit(64))"
    return "hamming64(f.phash, %s)"


def _confirm(*, phash: int, k: int, candidates: np.ndarray, since: datetime) -> dict[int, int]:
    """The stored distance of each candidate and of each row changed since `since`,
    for the rows still searchable and within k."""
    signed = signed64(phash)
    distance = _distance_sql()
    recent = (
        f"SELECT f.asset_id, {distance} FROM dedup_fingerprint f "  # noqa: S608
        f"WHERE {_SEARCHABLE} AND f.computed_at > %s AND {distance} <= %s"
    )
    params: list = [signed, False, connection.ops.adapt_datetimefield_value(since), signed, k]
    ids = [int(i) for i in np.unique(candidates)]
    if connection.vendor == "postgresql":
        found = "f.asset_id = ANY(%s)"
        found_params = [ids]
    else:
        found = f"f.asset_id IN ({', '.join(['%s'] * len(ids)) or 'NULL'})"
        found_params = ids
    sql = (
        f"{recent} UNION SELECT f.asset_id, {distance} FROM dedup_fingerprint f "  # noqa: S608
        f"WHERE {_SEARCHABLE} AND {found} AND {distance} <= %s"
    )
    params += [signed, False, *found_params, signed, k]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return dict(cursor.fetchall())
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return dict(cursor.fetchall())


def memory_near_lookup(*, phash: int, k: int, index_k: int) -> dict[int, int] | None:
    """{asset id: distance} like dedup.index.near_lookup on the main hashes, from this
    process's index (laid out for lookups within index_k); None when it keeps none."""
    state = _current(index_k)
    if state is None:
        return None
    candidates = state.candidates(phash=phash, k=k)
    return _confirm(phash=phash, k=k, candidates=candidates, since=state.covered_at - slack())
