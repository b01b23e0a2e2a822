"""enforce_retention: the dry run lists actions and blockers and changes nothing."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from archive.models import Asset
from retention.enforce import retention_plan
from retention.models import DispositionRequest, PendingMove, RetentionPolicy
from retention.policies import policy_change
from retention.purge import disposition_request_approve
from tests.archive.helpers import ingest_picture
from tests.retention.conftest import hold, stored_sha, window_closed

pytestmark = pytest.mark.django_db


def snapshot(media) -> tuple[dict, dict]:
    """Every row of every model, and every stored file's digest."""
    rows = {
        model._meta.label: sorted(map(repr, model._default_manager.order_by("pk").values()))
        for model in apps.get_models()
    }
    files = {
        str(path.relative_to(media)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in media.rglob("*")
        if path.is_file()
    }
    return rows, files


def enforce(*args) -> str:
    out = StringIO()
    call_command("enforce_retention", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def cold_policy(staff):
    policy = RetentionPolicy.objects.get(key="originals-keep-forever", is_current=True)
    return policy_change(policy=policy, actor=staff, cold_after_days=90)


@pytest.fixture
def old(collection):
    """Two assets ingested long ago, one of them under a legal hold."""
    assets = [ingest_picture(collection=collection, colour=c).asset for c in ("red", "blue")]
    Asset.objects.filter(pk__in=[a.pk for a in assets]).update(
        ingested_at=timezone.now() - timedelta(days=120)
    )
    hold(assets[1], "CASE-5")
    return assets


class TestDryRun:
    def test_it_lists_moves_and_purges_with_blockers_and_changes_nothing(
        self, cold_policy, old, replaced, isolated_storage
    ):
        window_closed(replaced)
        before = snapshot(isolated_storage)

        output = enforce("--dry-run")

        assert snapshot(isolated_storage) == before
        assert f"asset {old[0].pk}" in output and "hot → cold" in output
        assert "blocked [legal_hold]: under legal hold (CASE-5)" in output
        assert f"REQUEST PURGE  asset {replaced.pk}" in output
        assert "dry run, nothing changed" in output

    def test_the_plan_names_every_blocker_of_a_purge(self, replaced, requester):
        from retention.purge import disposition_request_create

        disposition_request_create(assets=[replaced], reason="dup", actor=requester)
        window_closed(replaced)

        (step,) = retention_plan()

        assert step.action == "purge"
        assert [b.code for b in step.blockers] == ["approval_missing"]
        assert "awaits a second person's approval" in step.why


class TestEnforcement:
    def test_it_moves_files_requests_and_purges_what_is_allowed(
        self, cold_policy, old, replaced, approver, django_capture_on_commit_callbacks
    ):
        window_closed(replaced)

        with django_capture_on_commit_callbacks(execute=True):
            first = enforce()

        free, held = (Asset.objects.get(pk=a.pk) for a in old)
        assert (free.storage_alias, stored_sha(free)) == ("cold", free.sha256)
        assert held.storage_alias == "hot"  # invariant 1, through the scheduled path
        request = DispositionRequest.objects.get()
        assert request.requested_by is None and "awaits approval" in first

        disposition_request_approve(request=request, actor=approver)
        with django_capture_on_commit_callbacks(execute=True):
            enforce()

        replaced.refresh_from_db()
        assert replaced.state == Asset.State.PURGED
        assert not PendingMove.objects.exclude(step__in=["done", "cancelled"]).exists()

    def test_running_twice_does_nothing_more(
        self, cold_policy, old, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            enforce()
            second = enforce()

        assert PendingMove.objects.count() == 1
        assert "1 planned, 1 blocked" in second  # only the held asset is left

    def test_a_held_replaced_asset_is_never_purged(
        self, approved, replaced, django_capture_on_commit_callbacks
    ):
        hold(replaced)

        with django_capture_on_commit_callbacks(execute=True):
            output = enforce()

        assert "blocked [legal_hold]" in output
        assert stored_sha(replaced) == replaced.sha256

    def test_the_job_acts_as_the_system_and_never_as_nobody(
        self, cold_policy, old, django_capture_on_commit_callbacks
    ):
        from archive.errors import ArchiveError
        from archive.models import AuditEvent
        from retention.enforce import retention_enforce

        with pytest.raises(ArchiveError, match="named person or the system"):
            retention_enforce(dry_run=False, actor=None)
        assert not PendingMove.objects.exists()

        with django_capture_on_commit_callbacks(execute=True):
            enforce()

        moved = AuditEvent.objects.get(verb="asset.moved", object_id=str(old[0].pk))
        assert (moved.actor, moved.actor_name) == (None, "system")


class TestHoldsAskedPerPage:
    """The plan asks which candidates are frozen once per page of candidates; only the
    frozen ones get the full per-asset hold read (for the matters their blocker names)."""

    @staticmethod
    def family_queries(queries) -> int:
        return sum("k_seed" in q["sql"] for q in queries)

    def test_many_due_candidates_cost_a_few_hold_queries(self, cold_policy, collection):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        assets = [
            ingest_picture(collection=collection, colour=(i, 2 * i, 255 - i)).asset
            for i in range(12)
        ]
        Asset.objects.filter(pk__in=[a.pk for a in assets]).update(
            ingested_at=timezone.now() - timedelta(days=120)
        )
        held = assets[5]
        hold(held, "CASE-9")

        with CaptureQueriesContext(connection) as captured:
            plan = retention_plan()

        moves = {step.asset.pk: step for step in plan if step.action == "move"}
        assert set(moves) == {a.pk for a in assets}
        assert [b.code for b in moves[held.pk].blockers] == ["legal_hold"]
        assert "CASE-9" in moves[held.pk].blockers[0].message
        assert all(not moves[a.pk].blockers for a in assets if a != held)
        # One page of move candidates: the page's question, the held asset's own read,
        # and the other kinds' (empty) pages; never one per candidate.
        assert self.family_queries(captured.captured_queries) <= 4
