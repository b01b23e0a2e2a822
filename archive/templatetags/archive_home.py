"""Template helpers for the admin home: the records apps first, the plumbing after."""

from django import template

register = template.Library()

# The apps people do their work in; everything else (tasks, tokens, users) is plumbing.
WORK_APPS = ("archive", "dedup", "retention")


@register.simple_tag
def apps_split(app_list) -> dict:
    """The admin's app list split into the work apps (in WORK_APPS order) and the rest."""
    work = sorted(
        (app for app in app_list if app["app_label"] in WORK_APPS),
        key=lambda app: WORK_APPS.index(app["app_label"]),
    )
    return {"work": work, "plumbing": [a for a in app_list if a["app_label"] not in WORK_APPS]}
