"""Template helpers for the retention admin pages: the fixity alert."""

from django import template

from retention.fixity import fixity_failing_assets

register = template.Library()


@register.simple_tag
def fixity_failing_count() -> int:
    """How many assets failed their latest fixity check."""
    return fixity_failing_assets().count()
