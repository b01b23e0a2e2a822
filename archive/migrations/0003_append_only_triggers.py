"""Make the database refuse edits to audit events and deletion of assets (both vendors)."""

from django.db import migrations

from archive.append_only import append_only_install, append_only_uninstall


def install(apps, schema_editor):
    append_only_install(connection=schema_editor.connection)


def uninstall(apps, schema_editor):
    append_only_uninstall(connection=schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ("archive", "0002_holds_licence_sign_off_permissions"),
    ]

    operations = [
        # The SQL differs per vendor (plpgsql function and triggers on PostgreSQL, RAISE(ABORT)
        # triggers on SQLite); append_only_install checks connection.vendor.
        migrations.RunPython(install, uninstall, elidable=False),
    ]
