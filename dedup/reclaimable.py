"""The one reclaimable figure: the bytes a consolidation of the confirmable duplicates
would free, shown alike by the duplication report, the storage dashboard and the review
queue, with what it leaves out and why.

Only pairs judged exact, pixel or derivative form groups: look-alikes (`similar`) are
different photographs and free nothing. In each group the copy the suggestion keeps
stays (reference collections and published bytes first, then the rules); every other
member counts, except a member frozen by a legal hold (it cannot be quarantined), one in
a reference collection (never replaced) and one whose exact bytes were published (one
archival copy of published bytes is kept for ever).
"""

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from archive.models import Asset
from archive.selectors import assets_frozen_among
from dedup.selectors import GROUP_KINDS, group_components, open_kind_counts, queue_state

EXCLUSIONS = {
    "look_alikes": "look-alike pairs (different photographs)",
    "held": "assets under a legal hold",
    "reference": "assets in a reference collection",
    "kept_for_ever": "published bytes, kept for ever",
}


def reclaimable_summary(*, pairs: Iterable[tuple[int, int, str]]) -> dict:
    """The figure for pairs (asset a, asset b, kind): bytes and assets a consolidation of
    their confirmable groups would free, the freed asset ids, and the exclusions."""
    from dedup.review import canonical_facts, canonical_rank

    confirmable, look_alikes = [], 0
    for a, b, kind in pairs:
        if kind in GROUP_KINDS:
            confirmable.append((a, b))
        else:
            look_alikes += 1
    groups = group_components(pairs=confirmable)
    members = {pk for group in groups for pk in group}
    assets = Asset.objects.holding_bytes().in_bulk(members)
    facts = {f.pk: f for f in canonical_facts(assets=assets.values())}
    held = assets_frozen_among(asset_ids=list(assets))
    excluded = {name: {"assets": 0, "bytes": 0} for name in EXCLUSIONS if name != "look_alikes"}
    freed: list[int] = []
    for group in groups:
        live = [facts[pk] for pk in group if pk in facts]
        if len(live) < 2:
            continue
        keep, _ = canonical_rank(facts=live, rules=settings.KEEPSAKE_CANONICAL_RULES)
        for fact in live:
            if fact.pk == keep:
                continue
            reason = _excluded_because(fact, held)
            if reason:
                excluded[reason]["assets"] += 1
                excluded[reason]["bytes"] += fact.size
            else:
                freed.append(fact.pk)
    return {
        "bytes": sum(assets[pk].size for pk in freed),
        "assets": len(freed),
        "freed": sorted(freed),
        "look_alike_pairs": look_alikes,
        "excluded": excluded,
        "excludes": list(EXCLUSIONS.values()),
    }


def _excluded_because(fact, held: set[int]) -> str:
    if fact.pk in held:
        return "held"
    if fact.reference:
        return "reference"
    if fact.published:
        return "kept_for_ever"
    return ""


# The queue and the dashboard show the open pairs' figure on every page; it reads every
# open pair, so it is computed at most once per queue state and minute per process, and
# above KEEPSAKE_RECLAIMABLE_LIVE_PAIRS open pairs only by a worker (reclaimable_refresh).
CACHE_SECONDS = 60
CACHE_KEY = "dedup:reclaimable:open"
REFRESH_THROTTLE_KEY = "dedup:reclaimable:refresh-asked"
REFRESH_THROTTLE_SECONDS = 300


def _computed(state: str) -> dict:
    from dedup.models import DuplicateCandidate
    from dedup.selectors import OPEN_STATUSES

    rows = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES).values_list(
        "asset_a", "asset_b", "kind"
    )
    figure = reclaimable_summary(pairs=rows.iterator(chunk_size=5000))
    figure.pop("freed")  # a page needs the totals, not every id
    figure.update(as_of=timezone.now().isoformat(timespec="seconds"), stale=False)
    cache.set(f"{CACHE_KEY}:{state}", figure, CACHE_SECONDS)
    return figure


def reclaimable_refresh() -> dict:
    """Compute the figure for the queue as it is now and keep it for the pages (a worker's
    job at scale); older figures are dropped."""
    from dedup.models import ReclaimableFigure

    state = queue_state()
    figure = _computed(state)
    kept = ReclaimableFigure.objects.create(state=state, figure=figure)
    ReclaimableFigure.objects.filter(computed_at__lt=kept.computed_at).delete()
    cache.delete(REFRESH_THROTTLE_KEY)
    return figure


def open_pairs_reclaimable(*, fresh: bool = False) -> dict | None:
    """The figure for the review queue's open pairs (pending or deferred).

    Computed here while the queue is small (the key changes with every new pair, decision
    and undo, so a page never shows a figure from before the decision just made; holds and
    publications placed since show within the minute). Above the live limit: the figure a
    worker last computed, marked stale if the queue changed since (a refresh is queued), or
    None until the first one is made.
    """
    from dedup.models import ReclaimableFigure

    state = queue_state()
    if not fresh and (cached := cache.get(f"{CACHE_KEY}:{state}")) is not None:
        return cached
    if fresh or sum(open_kind_counts().values()) <= settings.KEEPSAKE_RECLAIMABLE_LIVE_PAIRS:
        return _computed(state)
    last = ReclaimableFigure.objects.first()
    if last is None or last.state != state:
        if cache.add(REFRESH_THROTTLE_KEY, True, REFRESH_THROTTLE_SECONDS):
            from django_q.tasks import async_task

            async_task("dedup.tasks.reclaimable_refresh_task")
            last = ReclaimableFigure.objects.first()  # made already when tasks run inline
    if last is None:
        return None
    return {**last.figure, "stale": last.state != state}
