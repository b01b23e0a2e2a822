"""Reads for the retention screens: quarantine, and the storage dashboard's numbers."""

from django.apps import apps
from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from archive.models import Asset
from retention.fixity import fixity_failing_assets
from retention.models import PendingMove, QuarantineRecord

GB = 1000**3
# The kinds a curator may consolidate: their smaller side is what consolidation frees.


def quarantine_open() -> QuerySet:
    return QuarantineRecord.objects.filter(
        restored_at__isnull=True, purged_at__isnull=True
    ).select_related("asset")


def _tiers() -> list[dict]:
    rows = {
        row["storage_alias"]: row
        for row in Asset.objects.holding_bytes()
        .values("storage_alias")
        .annotate(count=Count("pk"), bytes=Sum("size"))
    }
    prices = settings.KEEPSAKE_STORAGE_PRICES
    tiers = []
    for tier in settings.STORAGE_TIERS:
        row = rows.get(tier, {})
        size = row.get("bytes") or 0
        price = prices.get(tier, 0)
        tiers.append(
            {
                "tier": tier,
                "count": row.get("count", 0),
                "bytes": size,
                "price": price,
                "monthly_cost": round(size / GB * price, 4),
            }
        )
    return tiers


def _collections() -> list[dict]:
    table: dict[str, dict] = {}
    rows = (
        Asset.objects.holding_bytes()
        .values("collection__name", "storage_alias")
        .annotate(count=Count("pk"), bytes=Sum("size"))
        .order_by("collection__name")
    )
    for row in rows:
        entry = table.setdefault(
            row["collection__name"], {"name": row["collection__name"], "count": 0, "bytes": 0}
        )
        entry[row["storage_alias"]] = row["bytes"] or 0
        entry["count"] += row["count"]
        entry["bytes"] += row["bytes"] or 0
    return sorted(table.values(), key=lambda e: -e["bytes"])


def _duplicates() -> dict:
    candidate_model = apps.get_model("dedup", "DuplicateCandidate")
    pending = candidate_model.objects.filter(status="pending").exclude(
        Q(asset_a__state=Asset.State.PURGED) | Q(asset_b__state=Asset.State.PURGED)
    )
    by_kind = dict(pending.values_list("kind").annotate(n=Count("pk")).order_by("kind"))
    # The one reclaimable figure, as the report and the review queue show it (a sibling
    # app's read, imported here so retention loads without dedup's models).
    from dedup.reclaimable import open_pairs_reclaimable

    # None while a worker computes the first figure of a large queue.
    figure = open_pairs_reclaimable() or {
        "bytes": 0,
        "excluded": {
            name: {"assets": 0, "bytes": 0} for name in ("held", "reference", "kept_for_ever")
        },
        "excludes": [],
        "look_alike_pairs": 0,
        "stale": True,
    }
    quarantined = quarantine_open().aggregate(n=Count("pk"), bytes=Sum("asset__size"))
    return {
        "pending_pairs": sum(by_kind.values()),
        "pending_by_kind": by_kind,
        "reclaimable_by_review": figure["bytes"],
        "reclaimable_excluded": figure["excluded"],
        "reclaimable_excludes": figure["excludes"],
        "look_alike_pairs": figure["look_alike_pairs"],
        "reclaimable_stale": figure.get("stale", False),
        "quarantined_count": quarantined["n"],
        "reclaimable_after_window": quarantined["bytes"] or 0,
    }


def storage_dashboard() -> dict:
    """Bytes, counts and cost per tier and collection, duplicates, and bytes recovered."""
    tiers = _tiers()
    purged = Asset.objects.filter(state=Asset.State.PURGED).aggregate(
        n=Count("pk"), bytes=Sum("size")
    )
    biggest = max([t["bytes"] for t in tiers] + [1])
    for tier in tiers:
        tier["percent"] = round(100 * tier["bytes"] / biggest, 1)
    collections = _collections()
    widest = max([c["bytes"] for c in collections] + [1])
    for row in collections:
        row["bars"] = [
            {"tier": t, "percent": round(100 * row.get(t, 0) / widest, 1)}
            for t in settings.STORAGE_TIERS
        ]
    return {
        "generated_at": timezone.now(),
        "tiers": tiers,
        "total_bytes": sum(t["bytes"] for t in tiers),
        "total_count": sum(t["count"] for t in tiers),
        "monthly_cost": round(sum(t["monthly_cost"] for t in tiers), 4),
        "currency": settings.KEEPSAKE_PRICE_CURRENCY,
        "collections": collections,
        "duplicates": _duplicates(),
        "recovered_bytes": purged["bytes"] or 0,
        "purged_count": purged["n"],
        "open_moves": PendingMove.objects.filter(
            step__in=["started", "copied", "switched"]
        ).count(),
        "fixity_failures": fixity_failing_assets().count(),
    }
