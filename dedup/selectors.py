"""Reads of the dedup app."""

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When

from archive.models import Asset, CatalogueEntry
from archive.selectors import frozen_asset_ids
from dedup.imaging import HASH_VERSION
from dedup.models import DuplicateCandidate


def assets_lacking_fingerprint(*, retry_errors: bool = False):
    """Live assets with no fingerprint, or one made by another hash recipe."""
    stale = Q(fingerprint__isnull=True) | ~Q(fingerprint__hash_version=HASH_VERSION)
    if retry_errors:
        stale |= ~Q(fingerprint__error="")
    return Asset.objects.holding_bytes().filter(stale).order_by("pk")


KIND_ORDER = ["exact", "pixel", "derivative", "similar"]


def review_queue_annotate(queryset):
    """Queue order, hold and publication flags as annotations: a constant number of queries."""
    frozen = frozen_asset_ids()
    published = CatalogueEntry.objects.filter(published=True)
    return queryset.select_related("asset_a", "asset_b").annotate(
        kind_rank=Case(
            *[When(kind=k, then=Value(i)) for i, k in enumerate(KIND_ORDER)],
            output_field=IntegerField(),
        ),
        status_rank=Case(
            When(status="pending", then=Value(0)), default=Value(1), output_field=IntegerField()
        ),
        a_held=Q(asset_a__in=frozen),
        b_held=Q(asset_b__in=frozen),
        a_published=Exists(published.filter(asset=OuterRef("asset_a"))),
        b_published=Exists(published.filter(asset=OuterRef("asset_b"))),
    )


QUEUE_ORDER = ["status_rank", "kind_rank", "phash_distance", "dhash_distance", "pk"]


def review_next(*, after_id: int | None = None):
    """The next open pair a curator should look at, in queue order."""
    queryset = DuplicateCandidate.objects.filter(status__in=["pending", "deferred"])
    if after_id is not None:
        queryset = queryset.exclude(pk=after_id)
    return review_queue_annotate(queryset).order_by(*QUEUE_ORDER).first()
