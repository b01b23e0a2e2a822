"""No role runs code on the workers: schedules name only the project's own tasks.

The django-q2 admin is read-only for every role (no add, change, delete, resubmit), and
a Schedule whose func (or hook, arguments) is not on the allow-list is refused by the
model itself, so neither the admin, the shell nor a migration can create one.
"""

import io

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from archive.models import AuditEvent
from tests.archive.people import role_member

pytestmark = pytest.mark.django_db

ROLES = ["Archivist", "Licensing", "Compliance", "Operator"]
DJANGO_Q_MODELS = [Schedule, Success, Failure, OrmQ]


def setup_schedules() -> str:
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("role", ROLES)
def test_no_role_may_add_a_schedule_in_the_admin(client, role):
    client.force_login(role_member(role))
    form = {
        "name": "evil",
        "func": "os.remove",
        "args": "'/tmp/keepsake-not-here'",
        "schedule_type": Schedule.ONCE,
        "repeats": "-1",
        "next_run_0": "2020-01-01",
        "next_run_1": "00:00:00",
    }

    client.post(reverse("admin:django_q_schedule_add"), form)

    assert not Schedule.objects.filter(func="os.remove").exists()


@pytest.mark.parametrize("role", ROLES)
def test_no_role_may_change_or_delete_a_schedule(client, role):
    setup_schedules()
    schedule = Schedule.objects.order_by("pk").first()
    client.force_login(role_member(role))

    change = client.get(reverse("admin:django_q_schedule_change", args=[schedule.pk]))
    client.post(
        reverse("admin:django_q_schedule_change", args=[schedule.pk]),
        {"func": "os.remove", "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
    )
    client.post(reverse("admin:django_q_schedule_delete", args=[schedule.pk]), {"post": "yes"})

    schedule.refresh_from_db()
    assert schedule.func in settings.KEEPSAKE_SCHEDULABLE_TASKS
    assert change.status_code in (200, 403)
    assert 'name="func"' not in change.content.decode()


def test_the_django_q_admin_is_read_only_and_offers_no_actions(rf):
    superuser = type("U", (), {"is_active": True, "is_staff": True, "is_superuser": True})()
    superuser.has_perm = lambda perm, obj=None: True
    request = rf.get("/")
    request.user = superuser
    for model in DJANGO_Q_MODELS:
        model_admin = admin.site._registry[model]
        assert model_admin.has_add_permission(request) is False, model
        assert model_admin.has_change_permission(request) is False, model
        assert model_admin.has_delete_permission(request) is False, model
        assert model_admin.get_actions(request) == {}, model


def _success_task():
    now = timezone.now()
    return Success.objects.create(
        id="0" * 32,
        name="old",
        func="dedup.tasks.scan_incremental_task",
        started=now,
        stopped=now,
        success=True,
    )


def test_resubmit_is_not_offered_to_the_operator(client):
    task = _success_task()
    operator = role_member("Operator")
    client.force_login(operator)

    listing = client.get(reverse("admin:django_q_success_changelist"))
    client.post(
        reverse("admin:django_q_success_changelist"),
        {"action": "resubmit_task", ACTION_CHECKBOX_NAME: [task.pk]},
    )

    assert listing.status_code == 200
    assert "resubmit" not in listing.content.decode().lower()
    assert OrmQ.objects.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"func": "os.remove", "args": "'/srv/keepsake/hot/only-copy.jpg'"},
        {"func": "subprocess.call", "args": "['sh', '-c', 'id']"},
        {"func": "dedup.tasks.scan_incremental_task", "hook": "os.system"},
        {"func": "dedup.tasks.scan_incremental_task", "kwargs": "q_options={'hook': 'os.abort'}"},
        {"func": "dedup.tasks.scan_incremental_task", "args": "1"},
        {"func": "dedup.tasks"},
        {"func": " dedup.tasks.scan_incremental_task"},
    ],
)
def test_the_orm_refuses_a_schedule_outside_the_allow_list(fields):
    with pytest.raises(ValidationError):
        Schedule.objects.create(name="x", schedule_type=Schedule.MINUTES, minutes=1, **fields)

    assert not Schedule.objects.exists()


def test_an_existing_schedule_cannot_be_turned_into_another_func():
    setup_schedules()
    schedule = Schedule.objects.order_by("pk").first()
    schedule.func = "shutil.rmtree"

    with pytest.raises(ValidationError):
        schedule.save()


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_only_listed_task_paths_are_allowed(func):
    from config.admin_tasks import schedule_func_allowed

    assert schedule_func_allowed(func) is (func in settings.KEEPSAKE_SCHEDULABLE_TASKS)


def test_every_configured_schedule_is_on_the_allow_list():
    from config.admin_tasks import schedule_func_allowed

    for entry in settings.KEEPSAKE_SCHEDULES:
        assert schedule_func_allowed(entry["func"]), entry


def test_setup_schedules_is_audited_and_removes_schedules_off_the_list():
    # A row written before the allow-list existed (bypassing save(), as an old deploy did).
    Schedule.objects.bulk_create(
        [Schedule(name="legacy", func="os.getcwd", schedule_type=Schedule.MINUTES, minutes=5)]
    )

    output = setup_schedules()

    assert set(Schedule.objects.values_list("func", flat=True)) == {
        e["func"] for e in settings.KEEPSAKE_SCHEDULES
    }
    assert "removed (not an allowed task): legacy -> os.getcwd" in output
    events = AuditEvent.objects.filter(verb__startswith="schedule.")
    verbs = list(events.values_list("verb", flat=True))
    assert verbs.count("schedule.created") == len(settings.KEEPSAKE_SCHEDULES)
    assert verbs.count("schedule.removed") == 1

    setup_schedules()
    assert AuditEvent.objects.filter(verb__startswith="schedule.").count() == len(verbs)
