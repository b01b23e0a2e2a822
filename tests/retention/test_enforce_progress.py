"""Enforcement always makes progress: blocked steps are reported but never use up the limit.

Defect 9 of issue 11: with the per-run limit counted over blocked and runnable steps
alike, in a fixed order, as many held (or kept-forever) candidates as the limit ahead of
the runnable ones stalled enforcement for ever.
"""

import itertools
import math
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.holds import legal_hold_place
from archive.models import Asset
from retention import enforce
from retention.enforce import retention_enforce, retention_plan
from retention.models import DispositionRequest, QuarantineRecord, RetentionPolicy
from retention.policies import policy_change
from retention.services import asset_quarantine
from tests.archive.helpers import ingest_bytes
from tests.archive.people import compliance_officer
from tests.conftest import image_bytes, make_image
from tests.retention.conftest import window_closed

pytestmark = pytest.mark.django_db

_colours = itertools.count(1)


def fresh_asset(collection, *, days_old: int = 120) -> Asset:
    """A new asset with bytes no other test asset has, ingested days_old days ago."""
    n = next(_colours)
    colour = (n * 37 % 256, n * 91 % 256, n * 53 % 256)
    asset = ingest_bytes(
        image_bytes(make_image(colour, size=(40, 32))), collection=collection, path=f"p{n}.jpg"
    ).asset
    Asset.objects.filter(pk=asset.pk).update(ingested_at=asset.ingested_at - timedelta(days_old))
    asset.refresh_from_db()
    return asset


def hold(asset, matter):
    officer = get_user_model().objects.filter(
        username="officer-progress"
    ).first() or compliance_officer("officer-progress")
    return legal_hold_place(
        matter_reference=matter, reason="litigation", assets=[asset], actor=officer
    )


@pytest.fixture
def cold_policy(staff):
    policy = RetentionPolicy.objects.get(key="originals-keep-forever", is_current=True)
    return policy_change(policy=policy, actor=staff, cold_after_days=90)


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    """Pages of two candidates, so every walk crosses page boundaries."""
    monkeypatch.setattr(enforce, "PAGE_SIZE", 2)


def run(limit: int, capture) -> list:
    with capture(execute=True):
        return retention_enforce(dry_run=False, limit=limit)


class TestBlockedStepsDoNotUseTheLimit:
    def test_held_candidates_ahead_of_the_limit_do_not_stall_the_moves(
        self, cold_policy, collection, django_capture_on_commit_callbacks
    ):
        held = [fresh_asset(collection, days_old=200) for _ in range(3)]
        for asset in held:
            hold(asset, f"CASE-{asset.pk}")
        free = [fresh_asset(collection, days_old=100) for _ in range(2)]

        plan = run(2, django_capture_on_commit_callbacks)

        assert [a.storage_alias for a in Asset.objects.filter(pk__in=[a.pk for a in free])] == [
            "cold",
            "cold",
        ]
        assert {s.asset.pk for s in plan if s.blocked} == {a.pk for a in held}
        assert all(
            a.storage_alias == "hot" for a in Asset.objects.filter(pk__in=[a.pk for a in held])
        )

    def test_the_dry_run_counts_only_what_would_run(self, cold_policy, collection):
        held = [fresh_asset(collection, days_old=200) for _ in range(3)]
        for asset in held:
            hold(asset, f"CASE-{asset.pk}")
        free = [fresh_asset(collection, days_old=100) for _ in range(3)]

        plan = retention_plan(limit=2)

        assert [s.asset.pk for s in plan if not s.blocked] == [a.pk for a in free[:2]]
        assert [s.asset.pk for s in plan if s.blocked] == [a.pk for a in held]

    def test_kept_forever_purges_ahead_do_not_stall_a_purge_request(
        self, collection, replaced, staff, django_capture_on_commit_callbacks
    ):
        """Quarantined originals whose windows closed are kept forever: blocked, for ever."""
        kept = [fresh_asset(collection) for _ in range(3)]
        with django_capture_on_commit_callbacks(execute=True):
            for asset in kept:
                asset_quarantine(asset=asset, reason="withdrawn", actor=staff)
        last = max(window_closed(asset).restore_deadline for asset in kept)
        # The replaced duplicate's window closed last, so it sorts after the kept ones.
        record = window_closed(replaced)
        QuarantineRecord.objects.filter(pk=record.pk).update(
            restore_deadline=last + timedelta(minutes=1)
        )

        plan = run(2, django_capture_on_commit_callbacks)

        assert DispositionRequest.objects.filter(items__asset=replaced).exists()
        assert sum(1 for s in plan if s.blocked and s.action == "request purge") == 3


class TestRepeatedRunsFinish:
    @settings(
        max_examples=10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(mix=st.lists(st.booleans(), min_size=1, max_size=7), limit=st.integers(1, 3))
    def test_runs_move_everything_runnable_within_the_bound(
        self, cold_policy, collection, django_capture_on_commit_callbacks, mix, limit
    ):
        """mix[i]: whether the i-th candidate (oldest first) is held. Assets of earlier
        examples stay in the database, so their held ones pile up ahead of these."""
        assets = [fresh_asset(collection, days_old=100 + len(mix) - i) for i in range(len(mix))]
        for asset, held in zip(assets, mix, strict=True):
            if held:
                hold(asset, f"CASE-{asset.pk}")
        runnable = [a.pk for a, held in zip(assets, mix, strict=True) if not held]

        for _ in range(math.ceil(len(runnable) / limit)):
            before = Asset.objects.filter(pk__in=runnable, storage_alias="hot").count()
            plan = run(limit, django_capture_on_commit_callbacks)
            after = Asset.objects.filter(pk__in=runnable, storage_alias="hot").count()
            # Every run does as much as the limit allows: progress is never zero.
            assert before - after == min(limit, before)
            assert sum(1 for s in plan if not s.blocked) == min(limit, before)

        by_pk = {a.pk: a for a in Asset.objects.filter(pk__in=[a.pk for a in assets])}
        for asset, held in zip(assets, mix, strict=True):
            assert by_pk[asset.pk].storage_alias == ("hot" if held else "cold")
