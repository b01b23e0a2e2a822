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

from archive.models import Asset
from archive.selectors import assets_frozen_among
from dedup.selectors import GROUP_KINDS, group_components, queue_state

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
# open pair, so it is computed at most once a minute per process.
CACHE_SECONDS = 60
CACHE_KEY = "dedup:reclaimable:open"


def open_pairs_reclaimable(*, fresh: bool = False) -> dict:
    """The figure for the review queue's open pairs (pending or deferred)."""
    from dedup.models import DuplicateCandidate
    from dedup.selectors import OPEN_STATUSES

    # The key changes with every new pair and every decision, so a page never shows a
    # figure from before the decision just made (holds and publications placed since
    # show within the minute).
    key = f"{CACHE_KEY}:{queue_state()}"
    if not fresh and (cached := cache.get(key)) is not None:
        return cached
    rows = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES).values_list(
        "asset_a", "asset_b", "kind"
    )
    figure = reclaimable_summary(pairs=rows.iterator(chunk_size=5000))
    figure.pop("freed")  # a page needs the totals, not every id
    cache.set(key, figure, CACHE_SECONDS)
    return figure
