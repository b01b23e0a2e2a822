"""Template helpers for the admin home: the review work waiting, by kind."""

from django import template
from django.db.models import Count

from dedup.models import DuplicateCandidate
from dedup.selectors import KIND_ORDER, OPEN_STATUSES

register = template.Library()


@register.simple_tag
def review_work() -> dict:
    """Open pairs (pending or deferred) per kind, surest kinds first, and their total."""
    open_pairs = DuplicateCandidate.objects.filter(status__in=OPEN_STATUSES)
    counts = dict(open_pairs.values_list("kind").annotate(n=Count("pk")))
    return {
        "kinds": [(kind, counts.get(kind, 0)) for kind in KIND_ORDER],
        "total": sum(counts.values()),
    }
