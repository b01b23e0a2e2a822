"""python manage.py setup_schedules — create or update the django-q2 schedules (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django_q.models import Schedule

PREFIX = "keepsake: "


class Command(BaseCommand):
    help = (
        "Create or update one django-q2 Schedule per entry of KEEPSAKE_SCHEDULES and remove "
        "Keepsake schedules no longer listed. Safe to run on every deploy."
    )

    def handle(self, *args, **options):
        wanted = set()
        for entry in settings.KEEPSAKE_SCHEDULES:
            name = PREFIX + entry["name"]
            wanted.add(name)
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": entry["func"],
                    "schedule_type": Schedule.MINUTES,
                    "minutes": entry["minutes"],
                    "repeats": -1,
                },
            )
            verb = "created" if created else "updated"
            self.stdout.write(f"{verb}: {name} every {entry['minutes']} min -> {entry['func']}")
        stale = Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=wanted)
        for schedule in stale:
            self.stdout.write(f"removed: {schedule.name}")
        stale.delete()
