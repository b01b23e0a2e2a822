"""Clean-up campaigns: the duplicate pairs of a scope, resolved against a deadline.

A campaign's pairs are the candidate pairs with at least one asset in its scope (one of
its collections, through the asset's first ingest or a later source, optionally ingested
within a date range); its groups are those pairs joined through exact, pixel and
derivative pairs (the groups a curator confirms at once). A pair is resolved once it is
confirmed or judged not a duplicate; pending and deferred pairs remain.

Retention never imports dedup (dedup imports retention): the pairs are read through the
app registry (`apps.get_model("dedup", "DuplicateCandidate")`), as the storage dashboard
reads them, so the dependency stays one way at import time.

Progress is computed live; `campaign_snapshot_take` stores one row of figures per
campaign and day (the first write of a day wins), so the burn-down keeps its history
when pairs are later added, undone or re-scanned.
"""

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from archive.actors import actor_require
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.models import Asset
from retention.models import Campaign, CampaignSnapshot

RESOLVED = ("confirmed", "rejected")
KINDS = ("exact", "pixel", "derivative", "similar")
GROUP_KINDS = ("exact", "pixel", "derivative")
# The current rate is the decisions of the last week (or of the days since the start).
RATE_WINDOW_DAYS = 7
# Past this, a projected finish says "not within a century" instead of a date.
PROJECTION_HORIZON_DAYS = 36_500
# Snapshots go on this long after the deadline, for campaigns that overran it.
SNAPSHOT_GRACE_DAYS = 90


# --- Projection: pure arithmetic, searched by hypothesis -------------------------------------


@dataclass(frozen=True)
class Projection:
    per_day: float
    finish: date | None
    on_track: bool
    days_left: int
    needed_per_day: float | None
    status: str


def projection(
    *, remaining: int, decided: int, window_days: int, today: date, deadline: date
) -> Projection:
    """When the remaining pairs get done at the rate of `decided` per `window_days`.

    Today counts as a working day: at 100 a day, 50 remaining finish today. The finish is
    None when nothing was decided in the window or the finish lies past the horizon.
    """
    if remaining < 0 or decided < 0 or window_days < 1:
        raise ValueError("remaining and decided are counts; the window is at least a day")
    per_day = decided / window_days
    days_left = (deadline - today).days + 1  # today and the deadline day both count
    needed = remaining / days_left if days_left > 0 else None
    if remaining == 0:
        return Projection(per_day, today, True, days_left, 0.0, "finished")
    if per_day == 0:
        return Projection(per_day, None, False, days_left, needed, "no decisions yet")
    days = math.ceil(remaining / per_day)
    if days > PROJECTION_HORIZON_DAYS:
        return Projection(per_day, None, False, days_left, needed, "not within a century")
    finish = today + timedelta(days=days - 1)
    on_track = finish <= deadline
    if days_left <= 0:
        status = "past deadline"
    else:
        status = "on track" if on_track else "late"
    return Projection(per_day, finish, on_track, days_left, needed, status)


# --- Scope ----------------------------------------------------------------------------------


def campaign_asset_ids(*, campaign: Campaign):
    """A subquery of the ids of the assets in the campaign's scope."""
    collections = campaign.collections.all()
    scope = Q(collection__in=collections) | Q(sources__collection__in=collections)
    assets = Asset.objects.filter(scope)
    if campaign.ingested_from:
        assets = assets.filter(ingested_at__date__gte=campaign.ingested_from)
    if campaign.ingested_until:
        assets = assets.filter(ingested_at__date__lte=campaign.ingested_until)
    return assets.values("pk")


@dataclass(frozen=True)
class Pair:
    id: int
    asset_a: int
    asset_b: int
    kind: str
    status: str
    decided_on: date | None
    collection: str


def campaign_pairs(*, campaign: Campaign) -> list[Pair]:
    """The candidate pairs of the campaign's scope, each under the collection of its copy.

    A pair is counted under the collection of its newer in-scope asset (the copy that
    arrived later), so every pair is counted once.
    """
    candidate = apps.get_model("dedup", "DuplicateCandidate")
    ids = campaign_asset_ids(campaign=campaign)
    names = dict(campaign.collections.values_list("pk", "name"))
    rows = (
        candidate.objects.filter(Q(asset_a__in=ids) | Q(asset_b__in=ids))
        .values_list(
            "pk",
            "asset_a",
            "asset_b",
            "kind",
            "status",
            "decided_at",
            "asset_a__collection",
            "asset_b__collection",
        )
        .order_by("pk")
    )
    pairs = []
    for pk, a, b, kind, status, decided_at, coll_a, coll_b in rows.iterator(chunk_size=2000):
        home = coll_b if coll_b in names else coll_a
        decided_on = timezone.localdate(decided_at) if decided_at and status in RESOLVED else None
        pairs.append(Pair(pk, a, b, kind, status, decided_on, names.get(home, "other")))
    return pairs


# --- Progress -------------------------------------------------------------------------------


def _tally(pairs: list[Pair], key) -> list[dict]:
    table: dict[str, dict] = {}
    for pair in pairs:
        row = table.setdefault(key(pair), {"total": 0, "resolved": 0, "remaining": 0})
        row["total"] += 1
        row["resolved" if pair.status in RESOLVED else "remaining"] += 1
    return [{"name": name, **row} for name, row in table.items()]


def _groups(pairs: list[Pair]) -> dict:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    joined = [p for p in pairs if p.kind in GROUP_KINDS]
    for pair in joined:
        parent[find(pair.asset_a)] = find(pair.asset_b)
    open_roots = {find(p.asset_a) for p in joined if p.status not in RESOLVED}
    roots = {find(p.asset_a) for p in joined}
    return {"total": len(roots), "resolved": len(roots - open_roots), "remaining": len(open_roots)}


def _per_day(pairs: list[Pair], start: date, today: date) -> list[dict]:
    counts: dict[date, int] = {}
    for pair in pairs:
        if pair.decided_on is not None:
            counts[pair.decided_on] = counts.get(pair.decided_on, 0) + 1
    first = min([start, *counts]) if counts else start
    days = (today - first).days + 1
    return [
        {"day": first + timedelta(days=i), "decisions": counts.get(first + timedelta(days=i), 0)}
        for i in range(max(days, 0))
    ]


def _window(per_day: list[dict], start: date, today: date) -> tuple[int, int]:
    """Decisions in the rate window and its length in days (shorter for a young campaign)."""
    window = max(1, min(RATE_WINDOW_DAYS, (today - start).days + 1))
    since = today - timedelta(days=window - 1)
    return sum(d["decisions"] for d in per_day if since <= d["day"] <= today), window


def _scope(campaign: Campaign) -> dict:
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "owner": campaign.owner.get_username(),
        "starts_on": campaign.starts_on,
        "deadline": campaign.deadline,
        "collections": sorted(campaign.collections.values_list("name", flat=True)),
        "ingested_from": campaign.ingested_from,
        "ingested_until": campaign.ingested_until,
    }


def campaign_progress(*, campaign: Campaign, today: date | None = None) -> dict:
    """Resolved and remaining pairs (by kind, by collection), groups, decisions per day,
    the current rate and the projected finish against the deadline, and the snapshots."""
    today = today or timezone.localdate()
    pairs = campaign_pairs(campaign=campaign)
    resolved = sum(1 for p in pairs if p.status in RESOLVED)
    by_kind = {row["name"]: row for row in _tally(pairs, lambda p: p.kind)}
    per_day = _per_day(pairs, campaign.starts_on, today)
    decided, window = _window(per_day, campaign.starts_on, today)
    remaining = len(pairs) - resolved
    plan = projection(
        remaining=remaining,
        decided=decided,
        window_days=window,
        today=today,
        deadline=campaign.deadline,
    )
    snapshots = campaign.snapshots.order_by("day").values("day", "total", "resolved", "remaining")
    return {
        "campaign": _scope(campaign),
        "as_of": today,
        "total": len(pairs),
        "resolved": resolved,
        "remaining": remaining,
        "percent_resolved": round(100 * resolved / len(pairs), 1) if pairs else 100.0,
        "by_kind": [
            {
                "kind": k,
                **{f: by_kind.get(k, {}).get(f, 0) for f in ("total", "resolved", "remaining")},
            }
            for k in KINDS
        ],
        "by_collection": sorted(
            ({"collection": r.pop("name"), **r} for r in _tally(pairs, lambda p: p.collection)),
            key=lambda r: (-r["remaining"], r["collection"]),
        ),
        "groups": _groups(pairs),
        "decisions_per_day": per_day,
        "rate": {"window_days": window, "decisions": decided, "per_day": round(plan.per_day, 2)},
        "projection": {**asdict(plan), "per_day": round(plan.per_day, 2)},
        "snapshots": list(snapshots),
    }


# --- Writes ---------------------------------------------------------------------------------


def _campaign_state(campaign: Campaign) -> dict:
    state = _scope(campaign)
    state.pop("id")
    state["description"] = campaign.description
    return state


@audited
def campaign_save(*, campaign: Campaign, collections, actor) -> Campaign:
    """Create or change a campaign (its scope, owner and dates); audited either way."""
    adding = campaign._state.adding
    actor_require(actor, f"retention.{'add' if adding else 'change'}_campaign", "plan campaigns")
    collections = list(collections)
    if not collections:
        raise ArchiveError("A campaign covers at least one collection.", code="invalid")
    before = None if adding else _campaign_state(Campaign.objects.get(pk=campaign.pk))
    campaign.full_clean()
    campaign.save()
    campaign.collections.set(collections)
    audit_record(
        actor=actor,
        verb="campaign.created" if adding else "campaign.changed",
        obj=campaign,
        before=before,
        after=_campaign_state(campaign),
    )
    return campaign


def campaign_snapshot_take(*, campaign: Campaign, day: date | None = None) -> CampaignSnapshot:
    """Store the campaign's figures for the day, once: a second call that day changes nothing."""
    day = day or timezone.localdate()
    existing = CampaignSnapshot.objects.filter(campaign=campaign, day=day).first()
    if existing is not None:
        return existing
    figures = campaign_progress(campaign=campaign, today=day)
    decided = next((d["decisions"] for d in figures["decisions_per_day"] if d["day"] == day), 0)
    snapshot = CampaignSnapshot(
        campaign=campaign,
        day=day,
        total=figures["total"],
        resolved=figures["resolved"],
        remaining=figures["remaining"],
        decided_that_day=decided,
        figures={
            "by_kind": figures["by_kind"],
            "by_collection": figures["by_collection"],
            "groups": figures["groups"],
        },
    )
    snapshot.full_clean(validate_unique=False)
    try:
        # Two workers on the same day: the unique key lets one of them in.
        with transaction.atomic():
            snapshot.save()
    except IntegrityError:
        return CampaignSnapshot.objects.get(campaign=campaign, day=day)
    return snapshot


def campaign_snapshots_take(*, day: date | None = None) -> int:
    """Snapshot every campaign under way (started, deadline not long past); returns how many."""
    day = day or timezone.localdate()
    running = Campaign.objects.filter(
        starts_on__lte=day, deadline__gte=day - timedelta(days=SNAPSHOT_GRACE_DAYS)
    )
    taken = 0
    for campaign in running.order_by("pk"):
        campaign_snapshot_take(campaign=campaign, day=day)
        taken += 1
    return taken


def campaign_get(*, name_or_id: str) -> Campaign:
    """The campaign named (or numbered) so; a clear error otherwise."""
    campaign = Campaign.objects.filter(name=name_or_id).first()
    if campaign is None and str(name_or_id).isdigit():
        campaign = Campaign.objects.filter(pk=int(name_or_id)).first()
    if campaign is None:
        raise ArchiveError(f"No campaign called “{name_or_id}”.", code="not_found")
    return campaign
