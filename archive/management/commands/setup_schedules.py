"""python manage.py setup_schedules — create or update the django-q2 schedules (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_q.models import Schedule

from archive.actors import SYSTEM
from archive.audit import audit_record, audited
from config.admin_tasks import schedule_func_allowed

PREFIX = "keepsake: "
FIELDS = ("func", "schedule_type", "minutes", "repeats")


def _state(schedule: Schedule) -> dict:
    return {name: getattr(schedule, name) for name in ("name", *FIELDS)}


class Command(BaseCommand):
    help = (
        "Create or update one django-q2 Schedule per entry of KEEPSAKE_SCHEDULES, remove "
        "Keepsake schedules no longer listed and any schedule whose task is not on "
        "KEEPSAKE_SCHEDULABLE_TASKS. Every change is audited. Safe to run on every deploy."
    )

    def handle(self, *args, **options):
        unknown = [e["func"] for e in settings.KEEPSAKE_SCHEDULES]
        unknown = [func for func in unknown if not schedule_func_allowed(func)]
        if unknown:
            raise CommandError(f"not on KEEPSAKE_SCHEDULABLE_TASKS: {', '.join(unknown)}")
        with audited():
            wanted = {self._apply(entry) for entry in settings.KEEPSAKE_SCHEDULES}
            stale = Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=wanted)
            for schedule in stale.order_by("pk"):
                self._remove(schedule, "removed")
            # Rows older than the allow-list (or written around save()) must not run.
            for schedule in Schedule.objects.order_by("pk"):
                if not schedule_func_allowed(schedule.func) or schedule.hook:
                    self._remove(schedule, "removed (not an allowed task)")

    def _apply(self, entry: dict) -> str:
        name = PREFIX + entry["name"]
        wanted = {
            "func": entry["func"],
            "schedule_type": Schedule.MINUTES,
            "minutes": entry["minutes"],
            "repeats": -1,
        }
        schedule = Schedule.objects.select_for_update().filter(name=name).first()
        before = _state(schedule) if schedule else None
        if before and all(before[k] == v for k, v in wanted.items()):
            self.stdout.write(f"unchanged: {name}")
            return name
        schedule = schedule or Schedule(name=name)
        for key, value in wanted.items():
            setattr(schedule, key, value)
        schedule.save()
        verb = "schedule.updated" if before else "schedule.created"
        audit_record(actor=SYSTEM, verb=verb, obj=schedule, before=before, after=_state(schedule))
        self.stdout.write(
            f"{verb.split('.')[1]}: {name} every {entry['minutes']} min -> {entry['func']}"
        )
        return name

    def _remove(self, schedule: Schedule, how: str) -> None:
        audit_record(actor=SYSTEM, verb="schedule.removed", obj=schedule, before=_state(schedule))
        self.stdout.write(f"{how}: {schedule.name} -> {schedule.func}")
        schedule.delete()
