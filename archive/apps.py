from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Archive records"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = settings.KEEPSAKE_MAX_IMAGE_PIXELS
        from archive.append_only import post_migrate_append_only_reinstall
        from archive.roles import roles_receivers_connect

        post_migrate.connect(post_migrate_append_only_reinstall, sender=self)
        roles_receivers_connect()
