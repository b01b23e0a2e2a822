from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Archive records"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = settings.KEEPSAKE_MAX_IMAGE_PIXELS
        from archive import signals  # noqa: F401  (connects receivers)
