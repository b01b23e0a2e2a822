from django.apps import AppConfig


class DedupConfig(AppConfig):
    name = "dedup"
    verbose_name = "Duplicates"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from dedup import index, signals  # noqa: F401  (connects receivers)
