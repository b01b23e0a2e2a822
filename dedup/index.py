"""Near-duplicate lookup inside the database by multi-index hashing.

The 64-bit pHash is split into four 16-bit bands stored as indexed columns. If band i is
probed within radius r_i and the (r_i + 1) sum to k + 1, two hashes within Hamming
distance k agree within r_i on at least one band (pigeonhole: otherwise they would differ
in at least k + 1 bits). For k = 10 the radii are 1, 2, 2, 2 rather than 2 on every band,
which saves a quarter of the probes. Verifying the full distance then finds exactly what a
brute-force scan finds.

Past KEEPSAKE_LOOKUP_MEMORY_FROM searchable fingerprints a process answers main-hash
lookups from its own in-memory index instead (dedup.lookup_memory), which re-reads from
these tables what it found and what changed since it was loaded.
"""

import psycopg
from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from dedup import mih
from dedup.imaging import signed64
from dedup.lookup_memory import memory_near_lookup
from dedup.models import BAND_COUNT

MASK64 = (1 << 64) - 1


def hamming64(a: int | None, b: int | None) -> int | None:
    """Hamming distance of two signed 64-bit integers (SQLite's user function)."""
    if a is None or b is None:
        return None
    return ((a ^ b) & MASK64).bit_count()


@receiver(connection_created)
def connection_created_register_hamming(sender, connection, **kwargs):
    # SQLite has no popcount; PostgreSQL 14+ has bit_count() built in.
    if connection.vendor == "sqlite":
        connection.connection.create_function("hamming64", 2, hamming64, deterministic=True)


def phash_bands(*, phash: int) -> list[int]:
    """The band values of an unsigned 64-bit pHash, band 0 the most significant."""
    return mih.bands_of(code=phash & MASK64, bands=BAND_COUNT)


def _distance_sql() -> str:
    if connection.vendor == "postgresql":
        return "bit_count((f.phash # %s)::bit(64))"
    return "hamming64(f.phash, %s)"


# The tables a lookup can probe: the main pHash of every searchable fingerprint, and the
# variant hashes (pixels turned or mirrored, windows) of the same fingerprints.
MAIN = "main"
VARIANTS = "variants"
_TABLES = {
    MAIN: ("dedup_fingerprint", "f.low_information = %s AND f.error = '' AND ", [False]),
    VARIANTS: ("dedup_fingerprintvariant", "", []),
}


def _band_query(
    band: int, probes: list[int], signed_query: int, k: int, table: str = MAIN
) -> tuple[str, list]:
    distance = _distance_sql()
    name, condition, condition_params = _TABLES[table]
    if connection.vendor == "postgresql":
        band_filter, band_params = f"f.phash_b{band} = ANY(%s)", [probes]
    else:
        band_filter = f"f.phash_b{band} IN ({', '.join(['%s'] * len(probes))})"
        band_params = list(probes)
    # Only column names and placeholders are formatted in; every value is a parameter.
    sql = (
        f"SELECT f.asset_id, {distance} AS distance FROM {name} f "  # noqa: S608
        f"WHERE {condition}{band_filter} "
        f"AND {distance} <= %s"
    )
    return sql, [signed_query, *condition_params, *band_params, signed_query, k]


def near_lookup(*, phash: int, k: int, table: str = MAIN) -> dict[int, int]:
    """Every fingerprinted asset whose pHash is within distance k: {asset_id: distance}.

    table=VARIANTS probes the variant hashes instead: the distance is then the nearest of
    the asset's variants.
    """
    if not 0 <= k <= 64:
        raise ValueError("k must be between 0 and 64")
    if table == MAIN:
        found = memory_near_lookup(
            phash=phash & MASK64, k=k, index_k=settings.KEEPSAKE_VERIFY_DISTANCE
        )
        if found is not None:
            return found
    return database_near_lookup(phash=phash, k=k, table=table)


def database_near_lookup(*, phash: int, k: int, table: str = MAIN) -> dict[int, int]:
    """near_lookup from the band indexes of the database alone."""
    if not 0 <= k <= 64:
        raise ValueError("k must be between 0 and 64")
    signed_query = signed64(phash & MASK64)
    radii = mih.probe_radii(k=k, bands=BAND_COUNT)
    parts, params = [], []
    for band, value in enumerate(phash_bands(phash=phash)):
        if radii[band] < 0:
            continue  # small k: fewer bands suffice
        sql, band_params = _band_query(
            band, mih.band_probes(value=value, radius=radii[band]), signed_query, k, table
        )
        parts.append(sql)
        params.extend(band_params)
    # UNION (not UNION ALL) drops the rows that several bands found.
    found: dict[int, int] = {}
    for asset_id, distance in _execute(" UNION ".join(parts), params):
        found[asset_id] = min(distance, found.get(asset_id, 64))
    return found


def _execute(sql: str, params: list) -> list[tuple[int, int]]:
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    # Planning this query costs as much as running it, and Django's client-side binding
    # cannot prepare. A server-side-binding cursor on the same connection (and so the
    # same transaction) prepares it once per connection; the band probes travel as array
    # parameters, so the statement text only changes with k.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()
