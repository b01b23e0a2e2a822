from django.apps import AppConfig

_VIEW = [
    "retention.view_quarantinerecord",
    "retention.view_dispositionrequest",
    "retention.view_dispositionitem",
    "retention.view_retentionpolicy",
    "retention.view_fixitycheck",
    "retention.view_campaign",
    "retention.view_campaignsnapshot",
]


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = "Retention and storage"
    default_auto_field = "django.db.models.BigAutoField"
    # Merged into the roles by archive.roles / `setup_roles`. Requesting and approving a
    # disposition sit in different roles, so one person never holds both by role alone.
    keepsake_role_permissions = {
        "Archivist": [
            *_VIEW,
            "retention.restore_asset",
            "retention.request_disposition",
            "retention.add_campaign",
            "retention.change_campaign",
        ],
        "Compliance": [
            *_VIEW,
            "retention.approve_disposition",
            "retention.execute_disposition",
            "retention.view_storage_dashboard",
            "retention.view_destructioncertificate",
        ],
        "Operator": [
            *_VIEW,
            "retention.add_retentionpolicy",
            "retention.change_retentionpolicy",
            "retention.move_asset",
            "retention.view_pendingmove",
            "retention.view_storage_dashboard",
        ],
    }

    def ready(self):
        from archive import hooks
        from retention.fixity import fixity_asset_check
        from retention.guard import retention_asset_guard
        from retention.purge import disposition_items_void
        from retention.services import quarantine_record_close

        # The one guard (archive.lifecycle.guard_check) asks retention after the holds;
        # a restore closes what a quarantine opened for disposition.
        hooks.asset_guards.register(retention_asset_guard)
        hooks.asset_restored.register(quarantine_record_close)
        hooks.asset_restored.register(disposition_items_void)
        # Bytes found missing while serving them are re-checked and alerted like fixity.
        hooks.asset_bytes_unreadable.register(fixity_asset_check)
