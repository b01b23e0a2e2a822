from django.apps import AppConfig


class KeepsakeConfig(AppConfig):
    """Project-wide wiring that belongs to no app: the rules for django-q2."""

    name = "config"
    label = "keepsake_config"
    verbose_name = "Keepsake"

    def ready(self):
        # Runs after the admin's autodiscover (django.contrib.admin comes first in
        # INSTALLED_APPS), so django-q2's own registrations exist to be replaced.
        from config.admin_tasks import task_admin_install

        task_admin_install()
