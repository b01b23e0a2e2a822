"""The family queries read a few rows for one asset, however many assets the archive holds.

Every guarded step asks for one asset's active holds (`asset_active_holds`) and locks its
family (`asset_family`); a retention run asks it hundreds of thousands of times. PostgreSQL
cannot estimate how many rows a recursive query returns, and its guesses compound along
the family's steps (the seed's 1 row became 300 million at the last step), so it planned
every step as a hash join over the whole asset table: each call read every asset row
several times (43 ms at 28,500 assets, growing with the archive), and priced it so high
that PostgreSQL's JIT (on by default) compiled it on every call (about 0.75 s each). These
tests run the queries under EXPLAIN ANALYZE on a table of thousands of assets, count the
rows the plan actually read from the large tables (a handful, not the table), and check
the plan's estimated cost stays under the server's JIT threshold.
"""

import json

import pytest
from django.db import connection

from archive.models import Asset, Collection, LegalHold
from archive.selectors import (
    asset_active_holds,
    asset_family,
    assets_frozen_among,
    hold_reach,
    holds_over,
)

pytestmark = pytest.mark.django_db

ASSETS = 6000
LARGE = {
    "archive_asset",
    "archive_catalogueentry",
    "dedup_fingerprint",
    "archive_assetsource",
    "archive_legalhold_assets",
}
# Generous: one asset's family here has 3 members, each read through a few indexes.
READ_BOUND = 200


def _load(collection: Collection) -> None:
    """ASSETS assets in triples (two replaced by a third), each described and fingerprinted,
    every fingerprint with a pixel digest; statistics gathered as production has them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO archive_asset (sha256, size, format, width, height, colour_mode, "
            "frame_count, storage_alias, storage_key, state, role, collection_id, "
            "original_path, original_filename, ingested_at, exif) "
            "SELECT md5(g::text) || md5((-g)::text), 10, 'JPEG', 640, 480, 'RGB', 1, 'hot', "
            "'k/' || g, 'active', 'original', %s, 'p/' || g, g || '.jpg', now(), '{}' "
            "FROM generate_series(1, %s) g",
            [collection.pk, ASSETS],
        )
        cursor.execute(
            "UPDATE archive_asset a SET replaced_by_id = c.id FROM archive_asset c "
            "WHERE a.original_path LIKE 'p/%%' AND c.original_path LIKE 'p/%%' "
            "AND c.id = a.id - (a.id %% 3) + 2 AND a.id %% 3 IN (0, 1)",
            [],
        )
        cursor.execute(
            "INSERT INTO archive_catalogueentry (asset_id, collection_id, title, description, "
            "accession_number, creator, subjects, published, published_sha256, created_at) "
            "SELECT id, %s, 'Record', '', '', '', '[]', false, '', now() FROM archive_asset",
            [collection.pk],
        )
        cursor.execute(
            "INSERT INTO dedup_fingerprint (asset_id, sha256, phash, dhash, low_information, "
            "pixel_sha256, hash_version, error, computed_at) "
            "SELECT id, sha256, id, id, false, md5(sha256) || md5(sha256 || 'p'), 'v', '', "
            "now() FROM archive_asset"
        )
        cursor.execute("ANALYZE")


def _rows_read(queryset) -> tuple[int, list[str]]:
    """Rows the executed plan read from the large tables (returned or filtered out)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit_above_cost')::float")
        jit_above = cursor.fetchone()[0]
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    cost = plan[0]["Plan"]["Total Cost"]
    assert cost < jit_above, f"estimated at {cost:,.0f}: JIT would compile it on every call"
    total, scans = 0, []

    def walk(node):
        nonlocal total
        if node.get("Relation Name") in LARGE:
            loops = node.get("Actual Loops", 0)
            read = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
            total += read
            scans.append(f"{node['Node Type']} on {node['Relation Name']}: {read}")
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan[0]["Plan"])
    return total, scans


@pytest.fixture
def archive_of_thousands(collection, user):
    if connection.vendor != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    _load(collection)
    ids = sorted(Asset.objects.filter(original_path__startswith="p/").values_list("pk", flat=True))
    member = Asset.objects.get(pk=ids[len(ids) * 3 // 4])  # late in the table: no early stop
    hold = LegalHold.objects.create(matter_reference="M-1", reason="r", placed_by=user)
    family = list(asset_family(asset_ids=Asset.objects.filter(pk=member.pk).values("pk")))
    hold.assets.add(family[0])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return member, hold, family


def _one(asset):
    return Asset.objects.filter(pk=asset.pk).values("pk")


def test_the_family_is_the_consolidation_triple(archive_of_thousands):
    member, _, family = archive_of_thousands
    assert len(family) == 3
    assert member in family
    assert len({a.replaced_by_id for a in family if a.replaced_by_id}) == 1


def test_one_assets_holds_read_a_few_rows(archive_of_thousands):
    member, hold, _ = archive_of_thousands
    assert asset_active_holds(asset=member) == [hold]
    query = holds_over(asset_ids=_one(member)).filter(released_at__isnull=True)
    read, scans = _rows_read(query)
    assert read <= READ_BOUND, scans


def test_one_assets_family_reads_a_few_rows(archive_of_thousands):
    member, _, family = archive_of_thousands
    read, scans = _rows_read(asset_family(asset_ids=_one(member)))
    assert read <= READ_BOUND, scans


def test_a_pages_frozen_members_read_a_few_rows(archive_of_thousands):
    member, _, family = archive_of_thousands
    other = Asset.objects.exclude(pk__in=[a.pk for a in family]).order_by("-pk").first()
    assert assets_frozen_among(asset_ids=[member.pk, other.pk]) == {member.pk}


def test_one_assets_reach_reads_a_few_rows(archive_of_thousands):
    member, _, _ = archive_of_thousands
    family, collections = hold_reach(asset_ids=_one(member))
    assert collections.count() == 1
    read, scans = _rows_read(collections)
    assert read <= READ_BOUND, scans
