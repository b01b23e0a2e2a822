"""Reads of the archive records."""

import functools
import operator
from collections.abc import Callable, Iterable

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, F, Lookup, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from archive import hooks
from archive.models import Asset, AssetSource, Collection, LegalHold


def asset_get(*, asset_id: int) -> Asset:
    return Asset.objects.select_related("collection").get(pk=asset_id)


def collection_stats() -> list[dict]:
    """Per collection: live assets and their bytes, and how many sources point at them."""
    rows = (
        Collection.objects.annotate(
            asset_count=Count("assets", distinct=True),
            source_count=Count("sources", distinct=True),
        )
        .values("id", "name", "asset_count", "source_count")
        .order_by("name")
    )
    sizes = dict(
        Asset.objects.holding_bytes()
        .values_list("collection")
        .annotate(total=Sum("size"))
        .values_list("collection", "total")
    )
    return [{**row, "bytes": sizes.get(row["id"], 0) or 0} for row in rows]


def asset_sources(*, asset: Asset) -> list[AssetSource]:
    return list(asset.sources.select_related("collection").order_by("ingested_at", "pk"))


# --- Legal holds: the one definition of a hold's scope ----------------------------------
#
# A hold freezes what it names: assets, the assets of catalogue entries, and every asset of
# a collection (first ingested there, arriving through a source there, or described by an
# entry there, later ones included). With each of those it freezes the asset's family:
#
# - its consolidation tree: the assets folded into it and the canonical it was folded
#   into, both ways along `Asset.replaced_by`, however long the chain (a hold on a
#   canonical protects what was consolidated into it, whose records now live there);
# - the twins of the tree: exact (same sha256, e.g. a tombstone and a later re-ingest) and
#   whatever child apps register on `archive.hooks.asset_twins` (dedup: same decoded
#   pixels), both ways round;
# - the consolidation trees of those twins.
#
# `hold_scope` (holds -> assets) is the definition; `holds_over` (assets -> holds) reads
# the same paths backwards, which is exact because a family is symmetric (B is in A's
# family exactly when A is in B's). Everything else derives from these two. Every answer
# is one SQL query (subqueries, never lists), so the retention guard can exclude frozen
# assets from a million-row sweep.

# Lookups from an asset to the holds that name it, and to the collections it belongs to.
_HOLD_PATHS = ("legal_holds", "entries__legal_holds")
_COLLECTION_PATHS = ("collection", "sources__collection", "entries__collection")

# The family as one recursive query, kept flat (SQLite's parser refuses deeply nested
# subqueries): the seed, its consolidation trees (up to every ancestor along replaced_by,
# then down to every descendant of those), their twins, and the trees of the twins. Each
# recursive step is an index lookup (primary key, then the replaced_by foreign key);
# UNION (not UNION ALL) ends a walk even on a cycle.
#
# PostgreSQL cannot estimate a recursive query's rows, and its guesses compound along the
# steps (one seed row became 300 million by the last step), so with the plain joins it
# planned every step as a hash join over the whole asset table: each one-asset question
# read the table several times. Its form of the query therefore pins the plan to index
# probes whatever the estimates: each recursive step probes the index once per row found
# (a LATERAL subquery that OFFSET 0 keeps from being flattened back into a join), and every
# later use of a step reads it as an array (`= ANY(ARRAY(...))`, `_InRows`), which the
# planner takes for a few values and answers from the index. The rows read then follow
# the family's size, not the archive's (tests/archive/test_family_query_work.py).
_TREE_SQL = """
k_up{n}(id) AS (
    SELECT id FROM {start}
    UNION
    SELECT a.replaced_by_id FROM {table} a JOIN k_up{n} ON a.id = k_up{n}.id
    WHERE a.replaced_by_id IS NOT NULL
), k_tree{n}(id) AS (
    SELECT id FROM k_up{n}
    UNION
    SELECT a.id FROM {table} a JOIN k_tree{n} ON a.replaced_by_id = k_tree{n}.id
)"""
_TREE_SQL_POSTGRESQL = """
k_up{n}(id) AS (
    SELECT unnest(ARRAY(SELECT id FROM {start}))
    UNION
    SELECT s.replaced_by_id FROM k_up{n} CROSS JOIN LATERAL (
        SELECT a.replaced_by_id FROM {table} a
        WHERE a.id = k_up{n}.id AND a.replaced_by_id IS NOT NULL OFFSET 0
    ) s
), k_tree{n}(id) AS (
    SELECT unnest(ARRAY(SELECT id FROM k_up{n}))
    UNION
    SELECT s.id FROM k_tree{n} CROSS JOIN LATERAL (
        SELECT a.id FROM {table} a WHERE a.replaced_by_id = k_tree{n}.id OFFSET 0
    ) s
)"""
_EXACT_TWINS_SQL = (
    "SELECT id FROM k_tree1\n"
    "    UNION\n"
    "    SELECT a.id FROM {table} a\n"
    "    WHERE a.sha256 IN (SELECT b.sha256 FROM {table} b JOIN k_tree1 ON b.id = k_tree1.id)"
)
_EXACT_TWINS_SQL_POSTGRESQL = (
    "SELECT unnest(ARRAY(SELECT id FROM k_tree1))\n"
    "    UNION\n"
    "    SELECT a.id FROM {table} a\n"
    "    WHERE a.sha256 = ANY(ARRAY(\n"
    "        SELECT b.sha256 FROM {table} b WHERE b.id = ANY(ARRAY(SELECT id FROM k_tree1))))"
)
_FAMILY_SQL = """WITH RECURSIVE k_seed(id) AS (SELECT * FROM ({seed}) AS k_s),{tree1},
k_twin(id) AS (
    {exact}{hooks}
),{tree2}
{select}"""


class _InRows(Lookup):
    """`lhs IN (rows)`, the rows a subquery of the family query; on PostgreSQL written
    `lhs = ANY(ARRAY(rows))`, which it plans as index probes for a few values (see above)."""

    lookup_name = "k_in_rows"

    def _sides(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return lhs, rhs, (*lhs_params, *rhs_params)

    def as_sql(self, compiler, connection):
        lhs, rhs, params = self._sides(compiler, connection)
        return f"{lhs} IN {rhs}", params

    def as_postgresql(self, compiler, connection):
        lhs, rhs, params = self._sides(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", params


def _in_rows(rows: RawSQL) -> _InRows:
    return _InRows(F("pk"), rows)


def _any(conditions: Iterable[Q]) -> Q:
    return functools.reduce(operator.or_, conditions)


def _compiled(query: QuerySet) -> tuple[str, tuple]:
    query = query.order_by()
    return query.query.get_compiler(using=query.db).as_sql()


def _cte(name: str) -> QuerySet:
    """The assets of one step of the family query, for queries built on them."""
    # name is one of the fixed CTE names above, never input.
    return Asset.objects.filter(_in_rows(RawSQL(f"SELECT id FROM {name}", ())))  # noqa: S608, S611


def _unions(queries: Iterable[QuerySet]) -> tuple[str, list]:
    """One compound SELECT of the queries (each compiled, its values bound parameters)."""
    parts, params = [], []
    for number, query in enumerate(queries):
        try:
            sql, query_params = _compiled(query)
        except EmptyResultSet:
            continue
        parts.append(f"SELECT * FROM ({sql}) AS k_part{number}")  # noqa: S608
        params.extend(query_params)
    return "\nUNION\n".join(parts), params


def _registered_twins(*, of: QuerySet) -> list[QuerySet]:
    twins = []
    for asset_twins in hooks.asset_twins:
        found = asset_twins(asset_ids=of.values("pk"))
        if found is not None and not isinstance(found, QuerySet):
            found = Asset.objects.filter(pk__in=list(found)).values("pk")
        if found is not None:
            twins.append(found)
    return twins


def _family_select(
    *, asset_ids: QuerySet, select: Callable[[QuerySet], list[QuerySet]]
) -> RawSQL | None:
    """One query: the family of asset_ids, then select(family) read from it (a union).

    The family is computed once, whatever select reads from it; the twins registered on
    hooks.asset_twins get the trees of the seed as a query naming the CTE, so their
    answers are spliced into the same WITH instead of nesting it again.
    """
    try:
        seed, seed_params = _compiled(asset_ids)
    except EmptyResultSet:
        return None
    table = Asset._meta.db_table
    postgresql = connections[asset_ids.db].vendor == "postgresql"
    tree = _TREE_SQL_POSTGRESQL if postgresql else _TREE_SQL
    exact = _EXACT_TWINS_SQL_POSTGRESQL if postgresql else _EXACT_TWINS_SQL
    twins_sql, twins_params = _unions(_registered_twins(of=_cte("k_tree1")))
    select_sql, select_params = _unions(select(_cte("k_tree2")))
    if not select_sql:
        return None
    # The ORM has no recursive queries. Only compiled ORM queries, the model's own table
    # name and fixed CTE names are spliced in; every value stays a bound parameter.
    sql = _FAMILY_SQL.format(
        seed=seed,
        table=table,
        tree1=tree.format(n=1, start="k_seed", table=table),
        exact=exact.format(table=table),
        hooks=f"\n    UNION\n{twins_sql}" if twins_sql else "",
        tree2=tree.format(n=2, start="k_twin", table=table),
        select=select_sql,
    )
    return RawSQL(sql, (*seed_params, *twins_params, *select_params))  # noqa: S611


def asset_family(*, asset_ids: QuerySet) -> QuerySet:
    """The given assets (a query of primary keys) and every asset frozen together with them."""
    rows = _family_select(asset_ids=asset_ids, select=lambda family: [family.values("pk")])
    return Asset.objects.filter(_in_rows(rows)) if rows is not None else Asset.objects.none()


def _named(*, holds: QuerySet, collections: bool = True) -> Q:
    """Assets the holds name: directly, through an entry and (if asked) a collection."""
    named = _any(
        Q(pk__in=Asset.objects.filter(**{f"{path}__in": holds}).values("pk"))
        for path in _HOLD_PATHS
    )
    if collections:
        held = Collection.objects.filter(legal_holds__in=holds).values("pk")
        named |= _any(
            Q(pk__in=Asset.objects.filter(**{f"{path}__in": held}).values("pk"))
            for path in _COLLECTION_PATHS
        )
    return named


def hold_scope(*, holds: QuerySet, collections: bool = True) -> QuerySet:
    """The assets the given holds freeze (active or not): what they name, and its family.

    collections=False leaves out what the holds reach through collections only (a
    placement locks collection rows, not every asset of a collection).
    """
    named = Asset.objects.filter(_named(holds=holds, collections=collections)).values("pk")
    return asset_family(asset_ids=named)


def _collections_of(family: QuerySet) -> list[QuerySet]:
    return [family.values(path) for path in _COLLECTION_PATHS]


def hold_reach(*, asset_ids: QuerySet) -> tuple[QuerySet, QuerySet]:
    """The family of the assets, and the collections a hold on which would freeze them."""
    rows = _family_select(asset_ids=asset_ids, select=_collections_of)
    collections = (
        Collection.objects.filter(_in_rows(rows)) if rows is not None else Collection.objects.none()
    )
    return asset_family(asset_ids=asset_ids), collections


def _holds_of(family: QuerySet) -> list[QuerySet]:
    collections = Collection.objects.filter(
        _any(Q(pk__in=query) for query in _collections_of(family))
    )
    return [*(family.values(path) for path in _HOLD_PATHS), collections.values("legal_holds")]


def holds_over(*, asset_ids: QuerySet) -> QuerySet:
    """The holds (active or not) whose scope reaches any of the assets: hold_scope backwards."""
    rows = _family_select(asset_ids=asset_ids, select=_holds_of)
    if rows is None:
        return LegalHold.objects.none()
    return LegalHold.objects.filter(_in_rows(rows))


def _active_holds() -> QuerySet:
    return LegalHold.objects.filter(released_at__isnull=True)


def _one(asset: Asset) -> QuerySet:
    return Asset.objects.filter(pk=asset.pk).values("pk")


def assets_frozen_among(*, asset_ids: Iterable[int]) -> set[int]:
    """Which of a few assets (a page of a list) are frozen, without scanning every asset."""
    ids = set(asset_ids)
    if not ids or not _active_holds().exists():
        return set()
    family = asset_family(asset_ids=Asset.objects.filter(pk__in=ids).values("pk"))
    held = family.filter(_named(holds=_active_holds())).values("pk")
    frozen = asset_family(asset_ids=held).filter(pk__in=ids)
    return set(frozen.values_list("pk", flat=True))


def frozen_asset_ids() -> QuerySet:
    """Primary keys of every asset an active legal hold freezes, as a subquery."""
    return hold_scope(holds=_active_holds()).values("pk")


def asset_active_holds(*, asset: Asset) -> list[LegalHold]:
    """The active holds that freeze asset, directly or through its family, oldest first."""
    holds = holds_over(asset_ids=_one(asset)).filter(released_at__isnull=True)
    return list(holds.order_by("placed_at", "pk"))


def asset_is_frozen(*, asset: Asset) -> bool:
    """Whether any active legal hold freezes asset (directly or through its family)."""
    # Asks about this asset's holds only, instead of computing every frozen asset.
    return holds_over(asset_ids=_one(asset)).filter(released_at__isnull=True).exists()


def legal_hold_assets(*, hold: LegalHold) -> QuerySet:
    """The assets one hold freezes now (its scope, with families), whether active or not."""
    return hold_scope(holds=LegalHold.objects.filter(pk=hold.pk))
