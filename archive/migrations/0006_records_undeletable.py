"""Make the database refuse deleting holds, their scope and entries, rewriting what was
published, and reviving a tombstone (both vendors)."""

from django.db import migrations

from archive.append_only import RECORDS_MIGRATION, append_only_install, append_only_uninstall


def install(apps, schema_editor):
    append_only_install(connection=schema_editor.connection, migration=RECORDS_MIGRATION)


def uninstall(apps, schema_editor):
    append_only_uninstall(connection=schema_editor.connection, migration=RECORDS_MIGRATION)


class Migration(migrations.Migration):

    dependencies = [
        ("archive", "0005_api_idempotency_key"),
    ]

    operations = [
        migrations.RunPython(install, uninstall, elidable=False),
    ]
