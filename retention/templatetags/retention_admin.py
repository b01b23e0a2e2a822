"""Template helpers for the retention admin pages: the fixity alert, approvals waiting."""

from django import template

from retention.fixity import fixity_failing_assets

register = template.Library()


@register.simple_tag
def fixity_failing_count() -> int:
    """How many assets failed their latest fixity check."""
    return fixity_failing_assets().count()


@register.simple_tag
def dispositions_awaiting_approval() -> int:
    """Disposition requests filed and not yet approved by a second person."""
    from retention.models import DispositionRequest

    return DispositionRequest.objects.filter(
        approved_at__isnull=True, executed_at__isnull=True
    ).count()
