"""Make the database refuse deleting quarantine records and disposition items (both vendors)."""

from django.db import migrations

from archive.append_only import RETENTION_MIGRATION, append_only_install, append_only_uninstall


def install(apps, schema_editor):
    append_only_install(connection=schema_editor.connection, migration=RETENTION_MIGRATION)


def uninstall(apps, schema_editor):
    append_only_uninstall(connection=schema_editor.connection, migration=RETENTION_MIGRATION)


class Migration(migrations.Migration):

    dependencies = [
        ("archive", "0006_records_undeletable"),
        ("retention", "0002_default_policies"),
    ]

    operations = [
        migrations.RunPython(install, uninstall, elidable=False),
    ]
