"""Old results of background tasks are removed by a daily job, never by the cluster.

django-q2 enforces a positive save_limit in its single monitor process on every finished
task by locking and reading every kept result; that cost grew with the kept results and
serialised the cluster (bench/rehearsal.py, figure 4). The cluster keeps every result and
`task_results_prune` removes old ones.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Failure, Success, Task
from django_q.monitor import save_task
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from config import task_results
from config.task_results import task_results_prune, task_results_prune_task

NOW = timezone.now()


def _task(*, success: bool, age: timedelta) -> Task:
    stopped = NOW - age
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=uuid.uuid4().hex,
        func="dedup.tasks.scan_incremental_task",
        started=stopped - timedelta(seconds=1),
        stopped=stopped,
        success=success,
    )


class PruneSearch(TestCase):
    """Whatever the ages, exactly the results past their own window go."""

    @hsettings(max_examples=40, deadline=None)
    @given(
        ages=st.lists(
            st.tuples(st.booleans(), st.integers(min_value=0, max_value=200 * 24)), max_size=12
        ),
        keep=st.tuples(st.integers(1, 30), st.integers(1, 120)),
        chunk=st.integers(1, 4),
    )
    def test_exactly_the_expired_results_are_removed(self, ages, keep, chunk):
        Task.objects.all().delete()
        keep_success, keep_failure = keep
        tasks = [(_task(success=ok, age=timedelta(hours=h)), ok, h) for ok, h in ages]

        with (
            self.settings(
                KEEPSAKE_Q_KEEP_SUCCESS_DAYS=keep_success,
                KEEPSAKE_Q_KEEP_FAILURE_DAYS=keep_failure,
            ),
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setattr(task_results, "PRUNE_CHUNK", chunk)
            removed = task_results_prune(now=NOW)

        expired = {t.pk for t, ok, h in tasks if h > 24 * (keep_success if ok else keep_failure)}
        kept = set(Task.objects.values_list("pk", flat=True))
        assert kept == {t.pk for t, _, _ in tasks} - expired
        assert removed["successes"] + removed["failures"] == len(expired)
        assert removed["failures"] == sum(1 for t, ok, _ in tasks if not ok and t.pk in expired)


@pytest.mark.django_db
def test_the_task_keeps_recent_results_and_failures_longer(settings):
    settings.KEEPSAKE_Q_KEEP_SUCCESS_DAYS, settings.KEEPSAKE_Q_KEEP_FAILURE_DAYS = 14, 90
    old_success = _task(success=True, age=timedelta(days=15))
    recent_success = _task(success=True, age=timedelta(days=13))
    old_failure = _task(success=False, age=timedelta(days=30))

    assert task_results_prune_task() == "1 successes and 0 failures removed"
    assert not Success.objects.filter(pk=old_success.pk).exists()
    assert Success.objects.filter(pk=recent_success.pk).exists()
    assert Failure.objects.filter(pk=old_failure.pk).exists()


@pytest.mark.django_db
def test_the_cluster_saves_a_result_without_reading_the_kept_ones():
    for _ in range(30):
        _task(success=True, age=timedelta(minutes=5))
    finished = {
        "id": uuid.uuid4().hex,
        "name": "finished-now",
        "func": "dedup.tasks.scan_incremental_task",
        "hook": None,
        "args": (),
        "kwargs": {},
        "started": NOW,
        "stopped": NOW,
        "result": "done",
        "success": True,
        "group": None,
        "cluster": "test",
        "attempt_count": 1,
    }

    with CaptureQueriesContext(connection) as queries:
        save_task(finished, get_broker())

    assert Success.objects.filter(name="finished-now").exists()
    assert Success.objects.count() == 31
    # Every read of the monitor asks for this task by id: none reads (and, on PostgreSQL,
    # locks) the other kept results, as enforcing a positive save_limit does.
    reads = [q["sql"] for q in queries if q["sql"].upper().startswith("SELECT")]
    assert reads
    assert [sql for sql in reads if '"django_q_task"."id" =' not in sql] == []
