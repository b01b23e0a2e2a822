"""Retention jobs: module-level tasks, idempotent, scheduled by setup_schedules."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule
from django_q.tasks import async_task

from archive.models import Asset
from retention import tasks
from retention.models import FixityCheck, PendingMove
from tests.retention.conftest import hold, stored_sha

pytestmark = pytest.mark.django_db


def test_setup_schedules_creates_the_retention_jobs():
    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())

    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {
        "retention.tasks.retention_enforce_task",
        "retention.tasks.fixity_batch_task",
        "retention.tasks.quarantine_reminders_task",
        "retention.tasks.moves_resume_task",
        "retention.tasks.campaign_snapshots_task",
        "retention.tasks.certificates_missing_task",
    } <= funcs
    assert Schedule.objects.filter(func__startswith="retention.").count() == 6


def test_the_move_task_is_idempotent(asset, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.asset_move_task(asset.pk, "cold")
        second = tasks.asset_move_task(asset.pk, "cold")

    assert first.startswith("moved") and second == "already there"
    assert stored_sha(asset) == asset.sha256 and asset.storage_alias == "cold"


def test_the_move_task_never_moves_a_held_asset(asset):
    hold(asset)

    with pytest.raises(Exception, match="legal hold"):
        tasks.asset_move_task(asset.pk, "cold")

    assert Asset.objects.get(pk=asset.pk).storage_alias == "hot"
    assert not PendingMove.objects.exists()


def test_tasks_run_through_django_q(asset):
    """Q_CLUSTER sync runs the enqueued task inline, by its dotted path."""
    async_task("retention.tasks.fixity_batch_task", 5)

    assert FixityCheck.objects.filter(asset=asset, ok=True).count() == 1


def test_the_periodic_tasks_run_twice_without_harm(replaced, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            tasks.retention_enforce_task()
            tasks.quarantine_reminders_task()
            tasks.moves_resume_task()
            tasks.fixity_batch_task()

    assert stored_sha(replaced) == replaced.sha256
    assert not PendingMove.objects.exclude(step="done").exists()


def test_the_disposition_task_skips_what_is_done(
    approved, replaced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.disposition_execute_task(approved.pk)
        second = tasks.disposition_execute_task(approved.pk)

    assert "purged" in first and "already executed" in second
