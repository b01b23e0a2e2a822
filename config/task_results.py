"""Results of finished background tasks: kept for a while for operators, then removed.

django-q2 can cap the results it keeps (Q_CLUSTER "save_limit"), but it enforces the cap
in its one monitor process on every finished task, by locking and reading every kept
result: with 1,000 kept that costs more than a review decision, and every task of the
cluster waits on that one process (bench/rehearsal.py, figure 4). So the cluster keeps
every result (save_limit 0) and this job, scheduled daily, removes results older than a
window, a few thousand rows per short transaction.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Task

# Rows deleted per transaction: short locks, bounded memory, whatever the backlog.
PRUNE_CHUNK = 5000


def _older_removed(*, success: bool, before) -> int:
    removed = 0
    while True:
        with transaction.atomic():
            ids = list(
                Task.objects.filter(success=success, stopped__lt=before)
                .order_by("stopped")
                .values_list("pk", flat=True)[:PRUNE_CHUNK]
            )
            if not ids:
                return removed
            removed += Task.objects.filter(pk__in=ids).delete()[0]


def task_results_prune(*, now=None) -> dict[str, int]:
    """Remove successes older than KEEPSAKE_Q_KEEP_SUCCESS_DAYS and failures older than
    KEEPSAKE_Q_KEEP_FAILURE_DAYS (failures stay longer: someone has to look at them)."""
    now = now or timezone.now()
    return {
        "successes": _older_removed(
            success=True, before=now - timedelta(days=settings.KEEPSAKE_Q_KEEP_SUCCESS_DAYS)
        ),
        "failures": _older_removed(
            success=False, before=now - timedelta(days=settings.KEEPSAKE_Q_KEEP_FAILURE_DAYS)
        ),
    }


def task_results_prune_task() -> str:
    """django-q2 task: the daily removal of old task results."""
    removed = task_results_prune()
    return f"{removed['successes']} successes and {removed['failures']} failures removed"
