from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "retention"
    default_auto_field = "django.db.models.BigAutoField"
    # Merged into the roles by archive.roles / `setup_roles`.
    keepsake_role_permissions = {
        "Archivist": ["retention.view_quarantinerecord", "retention.restore_asset"],
        "Compliance": ["retention.view_quarantinerecord"],
    }
