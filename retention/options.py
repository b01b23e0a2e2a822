"""The options report ("delete, migrate or rebuild"): what each retention option would do
to a collection or a campaign's scope, and what it would cost each month.

Options: `keep` (everything stays where it is), `cold` (every active hot asset moves to
the cold tier) and `purge` (replaced duplicates and quarantined assets that a policy lets
go after the window are purged). Each option names what it would touch that is
published, under a legal hold or under an unsigned licence conflict; held assets are
never moved or purged, and published last copies and licence conflicts are never purged,
so those are counted as staying. Prices per GB-month come from KEEPSAKE_STORAGE_PRICES
(`KEEPSAKE_PRICE_<TIER>_GB_MONTH`). A read: nothing is changed.
"""

from django.conf import settings
from django.db.models import Q

from archive.errors import ArchiveError
from archive.licensing import licence_conflict_unresolved
from archive.models import Asset, Collection
from archive.selectors import frozen_asset_ids
from retention.guard import licence_group, published_bytes_last_copy
from retention.models import Campaign
from retention.policies import asset_published_q, policies_current, policies_matching

GB = 1000**3
SAMPLE = 20  # asset ids listed per touched category


def _price(tier: str) -> float:
    return settings.KEEPSAKE_STORAGE_PRICES.get(tier, 0.0)


def _cost(assets: list[dict], tier_of) -> float:
    return round(sum(a["size"] / GB * _price(tier_of(a)) for a in assets), 4)


def _scope_assets(*, collection: Collection | None, campaign: Campaign | None):
    if (collection is None) == (campaign is None):
        raise ArchiveError("Name either a collection or a campaign.", code="invalid")
    if collection is not None:
        scope = Q(collection=collection) | Q(sources__collection=collection)
        ids = Asset.objects.filter(scope).values("pk")
    else:
        from retention.campaigns import campaign_asset_ids

        ids = campaign_asset_ids(campaign=campaign)
    return (
        Asset.objects.holding_bytes()
        .filter(pk__in=ids)
        .annotate(published=asset_published_q())
        .annotate(held=Q(pk__in=frozen_asset_ids()))
    )


def _category(rows: list[dict]) -> dict:
    return {
        "count": len(rows),
        "bytes": sum(r["size"] for r in rows),
        "assets": [r["id"] for r in rows[:SAMPLE]],
    }


def _purgeable(asset: Asset, policies) -> bool:
    if asset.state != Asset.State.QUARANTINED and asset.replaced_by_id is None:
        return False
    matching = policies_matching(asset=asset, policies=policies)
    return not any(p.keep_forever for p in matching) and any(p.purge_after_window for p in matching)


def _option(name: str, description: str, touched, stays, cost: float, keep_cost: float) -> dict:
    return {
        "option": name,
        "description": description,
        "objects": len(touched),
        "bytes": sum(r["size"] for r in touched),
        "monthly_cost": cost,
        "monthly_saving": round(keep_cost - cost, 4),
        "touches": {
            "published": _category([r for r in touched if r["published"]]),
            "held": _category([r for r in stays if r["why"] == "held"]),
            "licence_conflict": _category([r for r in stays if r["why"] == "licence_conflict"]),
            "published_last_copy": _category(
                [r for r in stays if r["why"] == "published_last_copy"]
            ),
        },
        "stays": len(stays),
    }


def options_report(*, collection: Collection | None = None, campaign: Campaign | None = None):
    """Bytes, object counts and monthly cost under keep, cold and purge, with what each touches."""
    rows, policies = [], policies_current()
    for asset in _scope_assets(collection=collection, campaign=campaign).order_by("pk"):
        rows.append(
            {
                "id": asset.pk,
                "size": asset.size,
                "tier": asset.storage_alias,
                "state": asset.state,
                "published": bool(asset.published),
                "held": bool(asset.held),
                "asset": asset,
                "purgeable": _purgeable(asset, policies),
            }
        )
    keep_cost = _cost(rows, lambda r: r["tier"])
    return {
        "scope": {
            "collection": collection.name if collection else None,
            "campaign": campaign.name if campaign else None,
        },
        "objects": len(rows),
        "bytes": sum(r["size"] for r in rows),
        "currency": settings.KEEPSAKE_PRICE_CURRENCY,
        "prices_per_gb_month": dict(settings.KEEPSAKE_STORAGE_PRICES),
        "options": [_keep(rows, keep_cost), _cold(rows, keep_cost), _purge(rows, keep_cost)],
    }


def _keep(rows, keep_cost) -> dict:
    return _option("keep", "Keep everything where it is.", [], [], keep_cost, keep_cost) | {
        "objects": len(rows),
        "bytes": sum(r["size"] for r in rows),
    }


def _cold(rows, keep_cost) -> dict:
    movable = [r for r in rows if r["tier"] == Asset.Tier.HOT and r["state"] == "active"]
    touched = [r for r in movable if not r["held"]]
    stays = [{**r, "why": "held"} for r in movable if r["held"]]
    moved = {r["id"] for r in touched}
    cost = _cost(rows, lambda r: Asset.Tier.COLD if r["id"] in moved else r["tier"])
    description = "Move every active hot file to the cold tier (verified copies)."
    return _option("cold", description, touched, stays, cost, keep_cost)


def _why_not_purged(row: dict) -> str | None:
    if row["held"]:
        return "held"
    asset = row["asset"]
    if published_bytes_last_copy(asset=asset):
        return "published_last_copy"
    if licence_conflict_unresolved(assets=licence_group(asset=asset)):
        return "licence_conflict"
    return None


def _purge(rows, keep_cost) -> dict:
    candidates = [r for r in rows if r["purgeable"]]
    stays = [{**r, "why": why} for r in candidates if (why := _why_not_purged(r))]
    kept = {r["id"] for r in stays}
    touched = [r for r in candidates if r["id"] not in kept]
    gone = {r["id"] for r in touched}
    cost = _cost([r for r in rows if r["id"] not in gone], lambda r: r["tier"])
    description = (
        "Purge replaced duplicates and quarantined files a policy lets go after the "
        "restore window (each still needs an approved disposition)."
    )
    return _option("purge", description, touched, stays, cost, keep_cost)
