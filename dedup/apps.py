from django.apps import AppConfig


class DedupConfig(AppConfig):
    name = "dedup"
    verbose_name = "Duplicates"
    default_auto_field = "django.db.models.BigAutoField"
    # Merged into the roles by archive.roles / `setup_roles`.
    keepsake_role_permissions = {
        "Archivist": [
            "dedup.view_duplicatecandidate",
            "dedup.review_duplicates",
            "dedup.view_consolidation",
            "dedup.view_fingerprint",
            "dedup.view_scanrun",
            "dedup.view_datasetrelease",
            "dedup.publish_release",
        ],
        "Licensing": ["dedup.view_duplicatecandidate"],
        "Compliance": [
            "dedup.view_duplicatecandidate",
            "dedup.view_consolidation",
            "dedup.view_datasetrelease",
        ],
        "Operator": ["dedup.view_fingerprint", "dedup.view_scanrun"],
    }

    def ready(self):
        from archive import hooks
        from dedup import index  # noqa: F401  (connects receivers)
        from dedup.signals import asset_analysed_fingerprint, asset_stored_check_near
        from dedup.twins import pixel_twins

        hooks.asset_twins.register(pixel_twins)
        hooks.asset_analysers.register(asset_analysed_fingerprint)
        hooks.asset_stored.register(asset_stored_check_near)
        from dedup.intake import intake_judge

        hooks.intake_judges.register(intake_judge)
        from dedup.facts import facts_register

        facts_register()
