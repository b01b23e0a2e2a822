"""Pixel twins: assets whose files decode to the same pixels, frozen together by a hold.

Registered on `archive.hooks.asset_twins` in `DedupConfig.ready()`. The archive asks for
the twins of a query of asset ids inside every hold-scope query (the guard, a sweep's
exclusion of frozen assets), so the answer is a subquery, never a list: one SQL statement
however many assets the hold covers.
"""

from django.db.models import Q, QuerySet

from dedup.models import Fingerprint

# Fingerprints without a digest (errors, multi-frame files, not yet recomputed) twin
# nothing; the condition matches the partial index on the digest.
_HAS_DIGEST = ~Q(pixel_sha256="")


def pixel_twins(*, asset_ids: QuerySet) -> QuerySet:
    """Primary keys of assets with the same pixel digest as any of asset_ids (both ways)."""
    digests = Fingerprint.objects.filter(_HAS_DIGEST, asset__in=asset_ids).values("pixel_sha256")
    return Fingerprint.objects.filter(_HAS_DIGEST, pixel_sha256__in=digests).values("asset")
