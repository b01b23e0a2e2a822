"""Reads of the dedup app."""

from django.db.models import Q

from archive.models import Asset
from dedup.imaging import HASH_VERSION


def assets_lacking_fingerprint(*, retry_errors: bool = False):
    """Live assets with no fingerprint, or one made by another hash recipe."""
    stale = Q(fingerprint__isnull=True) | ~Q(fingerprint__hash_version=HASH_VERSION)
    if retry_errors:
        stale |= ~Q(fingerprint__error="")
    return Asset.objects.holding_bytes().filter(stale).order_by("pk")
