"""Seed the default retention policies: originals and published copies are kept forever."""

from django.db import migrations

# Frozen here on purpose: a data migration must not follow later edits of the code.
DEFAULTS = [
    {
        "key": "originals-keep-forever",
        "name": "Originals: keep forever",
        "role": "original",
        "replaced": False,
        "keep_forever": True,
    },
    {
        "key": "published-keep-forever",
        "name": "Published images' archival copies: keep forever",
        "published": True,
        "keep_forever": True,
    },
    {
        "key": "replaced-duplicates",
        "name": "Replaced duplicates: 30-day restore window, then purge with approval",
        "replaced": True,
        "quarantine_window_days": 30,
        "purge_after_window": True,
    },
]


def seed(apps, schema_editor):
    policy_model = apps.get_model("retention", "RetentionPolicy")
    for spec in DEFAULTS:
        fields = {k: v for k, v in spec.items() if k != "key"}
        policy_model.objects.get_or_create(
            key=spec["key"], version=1, defaults={**fields, "reason": "default policy"}
        )


class Migration(migrations.Migration):
    dependencies = [("retention", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
