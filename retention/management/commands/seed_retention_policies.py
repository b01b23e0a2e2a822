"""python manage.py seed_retention_policies — create any missing default policy (idempotent)."""

from django.core.management.base import BaseCommand

from retention.policies import policies_seed_defaults


class Command(BaseCommand):
    help = "Create the default retention policies that do not exist yet; safe to run again."

    def handle(self, *args, **options):
        created = policies_seed_defaults()
        for policy in created:
            self.stdout.write(f"created: {policy}")
        self.stdout.write(f"{len(created)} created")
