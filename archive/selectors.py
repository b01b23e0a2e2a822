"""Reads of the archive records."""

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet, Sum
from django.dispatch import Signal

from archive.models import Asset, AssetSource, CatalogueEntry, Collection, LegalHold


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


# --- Legal holds ----------------------------------------------------------------------
#
# An asset is frozen while any active hold names it, one of its catalogue entries, or a
# collection it belongs to (as first ingested, through a source, or through an entry), and
# while any active hold freezes one of its twins. The archive knows exact twins (same
# sha256, e.g. a tombstone and a later re-ingest); child apps that know more (dedup: same
# decoded pixels) connect a receiver to `asset_twins_lookup`:
#
#     @receiver(asset_twins_lookup)
#     def asset_twins_lookup_pixels(sender, asset_ids, **kwargs):
#         return Fingerprint.objects.filter(pixel_hash__in=...).values("asset")
#
# `asset_ids` is a query of asset primary keys (use it as a subquery, it may be large);
# the receiver returns a query (or an iterable) of the primary keys of their twins, both
# ways round (if B is a twin of A, A is a twin of B). Everything stays one SQL query, so
# the retention guard can exclude frozen assets from a million-row sweep.

asset_twins_lookup = Signal()


def assets_with_twins(*, asset_ids: QuerySet) -> QuerySet:
    """The assets with the given ids and every exact or registered twin of them."""
    condition = Q(pk__in=asset_ids) | Q(
        sha256__in=Asset.objects.filter(pk__in=asset_ids).values("sha256")
    )
    for _receiver, twins in asset_twins_lookup.send(sender=Asset, asset_ids=asset_ids):
        if twins is not None:
            condition |= Q(pk__in=twins)
    return Asset.objects.filter(condition)


def _active_holds() -> QuerySet:
    return LegalHold.objects.filter(released_at__isnull=True)


def _held_collection_ids() -> QuerySet:
    return Collection.objects.filter(legal_holds__in=_active_holds()).values("pk")


def _held_asset_ids(*, among: QuerySet | None = None) -> QuerySet:
    """Primary keys of assets an active hold names directly, by entry or by collection."""
    holds = _active_holds()
    collections = _held_collection_ids()
    named = LegalHold.assets.through.objects.filter(legalhold__in=holds).values("asset")
    held = (
        Q(pk__in=named)
        | Q(pk__in=CatalogueEntry.objects.filter(legal_holds__in=holds).values("asset"))
        | Q(collection__in=collections)
        | Q(pk__in=AssetSource.objects.filter(collection__in=collections).values("asset"))
        | Q(pk__in=CatalogueEntry.objects.filter(collection__in=collections).values("asset"))
    )
    assets = Asset.objects.filter(pk__in=among) if among is not None else Asset.objects.all()
    return assets.filter(held).values("pk")


def assets_frozen_among(*, asset_ids: Iterable[int]) -> set[int]:
    """Which of a few assets (a page of a list) are frozen, without scanning every asset."""
    ids = set(asset_ids)
    if not ids or not _active_holds().exists():
        return set()
    page = Asset.objects.filter(pk__in=ids).values("pk")
    family = assets_with_twins(asset_ids=page).values("pk")
    held = _held_asset_ids(among=family)
    frozen = assets_with_twins(asset_ids=held).filter(pk__in=ids)
    return set(frozen.values_list("pk", flat=True))


def frozen_asset_ids() -> QuerySet:
    """Primary keys of every asset an active legal hold freezes, as a subquery."""
    return assets_with_twins(asset_ids=_held_asset_ids()).values("pk")


def _asset_holds(*, asset: Asset) -> QuerySet:
    itself = Asset.objects.filter(pk=asset.pk).values("pk")
    family = assets_with_twins(asset_ids=itself).values("pk")
    collections = Collection.objects.filter(
        Q(assets__in=family) | Q(sources__asset__in=family) | Q(entries__asset__in=family)
    ).values("pk")
    through = LegalHold.assets.through, LegalHold.entries.through, LegalHold.collections.through
    return _active_holds().filter(
        Q(pk__in=through[0].objects.filter(asset__in=family).values("legalhold"))
        | Q(pk__in=through[1].objects.filter(catalogueentry__asset__in=family).values("legalhold"))
        | Q(pk__in=through[2].objects.filter(collection__in=collections).values("legalhold"))
    )


def asset_active_holds(*, asset: Asset) -> list[LegalHold]:
    """The active holds that freeze asset, directly or through a twin, oldest first."""
    return list(_asset_holds(asset=asset).order_by("placed_at", "pk"))


def asset_is_frozen(*, asset: Asset) -> bool:
    """Whether any active legal hold freezes asset (directly or through a twin)."""
    # Asks about this asset's holds only, instead of computing every frozen asset.
    return _asset_holds(asset=asset).exists()


def legal_hold_assets(*, hold: LegalHold) -> QuerySet:
    """The assets one hold freezes now (its scope, including twins), whether active or not."""
    collections = hold.collections.values("pk")
    scope = (
        Q(pk__in=hold.assets.values("pk"))
        | Q(pk__in=hold.entries.values("asset"))
        | Q(collection__in=collections)
        | Q(pk__in=AssetSource.objects.filter(collection__in=collections).values("asset"))
        | Q(pk__in=CatalogueEntry.objects.filter(collection__in=collections).values("asset"))
    )
    return assets_with_twins(asset_ids=Asset.objects.filter(scope).values("pk"))
