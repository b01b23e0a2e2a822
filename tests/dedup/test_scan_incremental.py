"""The rolling scan catches pairs the ingest could not see, and only looks at new rows."""

import io

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from archive.models import AuditEvent
from dedup.models import DuplicateCandidate, ScanRun
from dedup.tasks import scan_incremental_task
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

pytestmark = pytest.mark.django_db


def test_pairs_missed_at_ingest_are_flagged_once(collection):
    scene = make_scene(31)
    ingest_bytes(image_bytes(scene), collection=collection, path="a.jpg")
    ingest_bytes(image_bytes(scene.resize((160, 120))), collection=collection, path="b.jpg")
    # As if both had been ingested at the same moment, unseen by each other.
    DuplicateCandidate.objects.all().delete()

    scan_incremental_task()
    again = scan_incremental_task()

    assert DuplicateCandidate.objects.get().found_by == "rolling-scan"
    first, second = ScanRun.objects.filter(incremental=True).order_by("pk")
    assert first.summary == {"fingerprints": 2, "pairs": 1, "new_pairs": 1}
    assert second.summary == {"fingerprints": 0, "pairs": 0, "new_pairs": 0}
    assert "fingerprints': 0" in again
    assert AuditEvent.objects.filter(verb="scan.incremental").count() == 2


def test_setup_schedules_is_idempotent(settings):
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    call_command("setup_schedules", stdout=out)

    # Other apps (retention) schedule their own jobs too; this one exists exactly once.
    schedule = Schedule.objects.get(func="dedup.tasks.scan_incremental_task")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.repeats == -1

    settings.KEEPSAKE_SCHEDULES = []
    call_command("setup_schedules", stdout=out)
    assert Schedule.objects.count() == 0
