"""Reads of the archive records."""

from django.db.models import Count, Sum

from archive.models import Asset, AssetSource, Collection


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
