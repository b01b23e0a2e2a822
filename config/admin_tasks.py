"""django-q2 under the archive's rules: only the project's own tasks, a read-only admin.

A Schedule names a dotted path the cluster imports and calls, so whoever may write one
runs code on the workers. Schedules therefore come only from `setup_schedules`, and the
model itself refuses any row whose func is not on KEEPSAKE_SCHEDULABLE_TASKS (or that
carries a hook or arguments, which would smuggle another callable in through q_options):
the admin, the shell and a migration all meet the same refusal. django-q2's admin pages
stay for watching the work, with every add, change, delete and resubmit taken away.
"""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models.signals import pre_save
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from archive.admin import ReadOnlyAdmin


def schedule_func_allowed(func) -> bool:
    """True only for a task path on the allow-list (exact match, no normalising)."""
    return isinstance(func, str) and func in settings.KEEPSAKE_SCHEDULABLE_TASKS


def schedule_check(schedule: Schedule) -> None:
    """Refuse a schedule the project did not define: unknown func, a hook, or arguments."""
    if not schedule_func_allowed(schedule.func):
        raise ValidationError(
            f"{schedule.func!r} is not an allowed task; schedules come from setup_schedules."
        )
    extras = [name for name in ("hook", "args", "kwargs") if getattr(schedule, name)]
    if extras:
        raise ValidationError(f"Project schedules take no {', '.join(extras)}.")


def pre_save_schedule_check(sender, instance, raw=False, **kwargs):
    """Refuse to save a Schedule outside the allow-list, whoever saves it."""
    # raw (loaddata) is refused too: a fixture is as good a way in as any.
    schedule_check(instance)


class ReadOnlyTaskAdmin(ReadOnlyAdmin):
    """Viewing background work only: no adds, edits, deletes, and no actions (resubmit)."""

    actions = None

    def get_actions(self, request):
        return {}


class ScheduleAdmin(ReadOnlyTaskAdmin, q_admin.ScheduleAdmin):
    pass


class SuccessAdmin(ReadOnlyTaskAdmin, q_admin.TaskAdmin):
    pass


class FailureAdmin(ReadOnlyTaskAdmin, q_admin.FailAdmin):
    pass


class QueueAdmin(ReadOnlyTaskAdmin, q_admin.QueueAdmin):
    pass


TASK_ADMINS = {
    Schedule: ScheduleAdmin,
    Success: SuccessAdmin,
    Failure: FailureAdmin,
    OrmQ: QueueAdmin,
}


def task_admin_install(site: admin.AdminSite = admin.site) -> None:
    """Replace django-q2's admin classes with the read-only ones; connect the refusal."""
    for model, model_admin in TASK_ADMINS.items():
        # The queue is registered only with the ORM broker; leave it out where it was.
        if site.is_registered(model):
            site.unregister(model)
            site.register(model, model_admin)
    pre_save.connect(pre_save_schedule_check, sender=Schedule, dispatch_uid="keepsake_schedule")
