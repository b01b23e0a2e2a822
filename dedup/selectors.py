"""Reads of the dedup app."""

from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import Count, Max, Q

from archive.models import Asset, AssetSource, CatalogueEntry
from archive.selectors import assets_frozen_among, frozen_asset_ids
from dedup.imaging import HASH_VERSION
from dedup.models import DuplicateCandidate


def assets_lacking_fingerprint(*, retry_errors: bool = False):
    """Live assets with no fingerprint, one made by another hash recipe, or no pixel digest."""
    stale = Q(fingerprint__isnull=True) | ~Q(fingerprint__hash_version=HASH_VERSION)
    # Fingerprints made before pixel digests existed: without one, pixel twins of a held
    # asset are not frozen (multi-frame files never get one, see dedup.imaging).
    stale |= Q(fingerprint__pixel_sha256="", fingerprint__error="", frame_count=1)
    if retry_errors:
        stale |= ~Q(fingerprint__error="")
    return Asset.objects.holding_bytes().filter(stale).order_by("pk")


def reference_collections(*, asset_ids: Iterable[int]) -> dict[int, str]:
    """Asset id -> name of a reference collection it belongs to (first ingested there, or
    delivered there by a source), for the assets among asset_ids that belong to one."""
    ids = list(asset_ids)
    found = dict(
        Asset.objects.filter(pk__in=ids, collection__reference=True).values_list(
            "pk", "collection__name"
        )
    )
    sources = AssetSource.objects.filter(asset__in=ids, collection__reference=True)
    for asset_id, name in sources.order_by("pk").values_list("asset", "collection__name"):
        found.setdefault(asset_id, name)
    return found


def published_bytes_ids(*, asset_ids: Iterable[int]) -> set[int]:
    """The assets among asset_ids whose exact bytes some catalogue entry published."""
    published = CatalogueEntry.objects.exclude(published_sha256="").values("published_sha256")
    return set(
        Asset.objects.filter(pk__in=list(asset_ids), sha256__in=published).values_list(
            "pk", flat=True
        )
    )


KIND_ORDER = ["exact", "pixel", "derivative", "similar"]
QUEUE_ORDER = ["kind_rank", "phash_distance", "dhash_distance", "pk"]
OPEN_STATUSES = ["pending", "deferred"]
QUEUE_CACHE_SECONDS = 60


def queue_state() -> str:
    """A key that changes with every new pair, decision and undo, read from three indexes.

    Pairs are never deleted and their kind never changes, so the newest id, the latest
    decision and the latest undo are enough; figures kept under this key are never from
    before the decision just made.
    """
    from dedup.models import Consolidation

    pairs = DuplicateCandidate.objects.aggregate(newest=Max("pk"), decided=Max("decided_at"))
    undone = Consolidation.objects.aggregate(at=Max("undone_at"))["at"]
    moments = [m.timestamp() if m else 0 for m in (pairs["decided"], undone)]
    return f"{pairs['newest'] or 0}:{moments[0]}:{moments[1]}"


def open_kind_counts() -> dict[str, int]:
    """Open pairs (pending or deferred) per kind, counted once per queue state."""
    key = f"dedup:queue:kinds:{queue_state()}"
    if (counts := cache.get(key)) is None:
        open_pairs = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES)
        counts = dict(open_pairs.values_list("kind").annotate(n=Count("pk")))
        cache.set(key, counts, QUEUE_CACHE_SECONDS)
    return {kind: counts.get(kind, 0) for kind in KIND_ORDER}


def review_flags(*, candidates: list) -> None:
    """Mark each candidate of a page held/published with two queries, whatever its size."""
    ids = {c.asset_a_id for c in candidates} | {c.asset_b_id for c in candidates}
    held = assets_frozen_among(asset_ids=ids)
    published = set(
        CatalogueEntry.objects.filter(published=True, asset__in=ids).values_list(
            "asset_id", flat=True
        )
    )
    for c in candidates:
        c.held = c.asset_a_id in held or c.asset_b_id in held
        c.published = c.asset_a_id in published or c.asset_b_id in published


def review_involving(queryset, *, involves: str):
    """Pairs where either asset is held ("held") or published ("published")."""
    if involves == "held":
        ids = frozen_asset_ids()
    else:
        ids = CatalogueEntry.objects.filter(published=True).values("asset_id")
    return queryset.filter(Q(asset_a__in=ids) | Q(asset_b__in=ids))


def review_next(*, after_id: int | None = None):
    """The next open pair a curator should look at: pending first, then deferred."""
    for status in OPEN_STATUSES:
        queryset = DuplicateCandidate.objects.filter(status=status)
        if after_id is not None:
            queryset = queryset.exclude(pk=after_id)
        found = queryset.order_by(*QUEUE_ORDER).first()
        if found is not None:
            return found
    return None


GROUP_KINDS = ("exact", "pixel", "derivative")


def group_components(*, pairs: Iterable[tuple[int, int]]) -> list[set[int]]:
    """The connected components of the graph whose edges are pairs, largest first."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    components: dict[int, set[int]] = {}
    for node in list(parent):
        components.setdefault(find(node), set()).add(node)
    return sorted(components.values(), key=lambda c: (-len(c), min(c)))


def review_groups(*, min_size: int = 3) -> list[dict]:
    """Open pairs joined transitively into groups, through exact/pixel/derivative edges only.

    Look-alike (similar) edges never join a group, so a chain of look-alikes cannot
    collapse into one.
    """
    edges = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES, kind__in=GROUP_KINDS)
    pairs = list(edges.values_list("pk", "asset_a_id", "asset_b_id"))
    components = group_components(pairs=[(a, b) for _pk, a, b in pairs])
    where = {asset: i for i, component in enumerate(components) for asset in component}
    candidates: dict[int, list[int]] = {}
    for pk, a, _b in pairs:
        candidates.setdefault(where[a], []).append(pk)
    return [
        {"assets": sorted(component), "candidates": sorted(candidates[i])}
        for i, component in enumerate(components)
        if len(component) >= min_size
    ]
