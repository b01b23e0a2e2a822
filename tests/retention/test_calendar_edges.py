"""Date-sensitive services at the calendar's edges: New Year's Eve and a leap day.

The suite also passes whole under `faketime` at these instants (see README "Tests");
this file runs a representative set of services with `django.utils.timezone.now`
shifted there by the `clock` fixture, and walks the clock forward across the edge.
"""

import datetime as dt

import pytest
from django.utils import timezone

from archive.audit import audit_verify
from archive.licensing import asset_licence_flags
from archive.models import Asset, Licence
from archive.services import record_save
from retention.enforce import retention_plan
from retention.guard import disposition_blockers
from retention.models import QuarantineRecord, RetentionPolicy
from retention.policies import policy_change
from retention.services import quarantine_deadlines_remind
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db

INSTANTS = ["2027-12-31 23:30:00", "2028-02-29 12:00:00"]


@pytest.fixture(autouse=True, params=INSTANTS)
def instant(request, clock):
    """Every fixture and step of the test runs with the clock at this instant (UTC)."""
    return clock.set(dt.datetime.fromisoformat(request.param).replace(tzinfo=dt.UTC))


def codes(asset, action):
    return [b.code for b in disposition_blockers(asset=asset, action=action)]


def test_the_clock_fixture_reaches_model_defaults_and_localdate(instant, collection):
    asset = ingest_picture(collection=collection, colour="olive").asset

    assert instant <= asset.ingested_at < instant + dt.timedelta(minutes=5)
    assert timezone.localdate() == instant.date()


def test_the_restore_window_spans_the_edge_and_closes_on_time(instant, clock, replaced):
    record = QuarantineRecord.objects.get(asset=replaced, restored_at=None)

    assert record.restore_deadline - record.quarantined_at == dt.timedelta(days=30)
    assert record.restore_deadline.year == 2028
    deadline = f"{record.restore_deadline:%Y-%m-%d %H:%M}"
    blocker = disposition_blockers(asset=replaced, action="purge")[0]
    assert (blocker.code, deadline in blocker.message) == ("restore_window_open", True)

    clock.advance(days=22, hours=23)
    assert quarantine_deadlines_remind(within_days=7) == 0
    clock.advance(hours=2)
    assert quarantine_deadlines_remind(within_days=7) == 1

    clock.set(record.restore_deadline - dt.timedelta(seconds=5))
    assert "restore_window_open" in codes(replaced, "purge")
    clock.set(record.restore_deadline + dt.timedelta(seconds=1))
    assert codes(replaced, "purge") == ["approval_missing"]
    (step,) = retention_plan()
    assert step.action == "request purge" and not step.blocked
    assert audit_verify().ok


def test_licence_flags_turn_at_local_midnight(instant, clock, collection, user):
    asset = ingest_picture(collection=collection, colour="teal").asset
    today = timezone.localdate()
    record_save(
        obj=Licence(entry=asset.entries.get(), holder="Agency", valid_until=today), actor=user
    )
    later = ingest_picture(collection=collection, colour="navy").asset
    tomorrow = today + dt.timedelta(days=1)
    record_save(
        obj=Licence(entry=later.entries.get(), holder="Agency", valid_from=tomorrow), actor=user
    )

    def flags():
        found = asset_licence_flags(assets=[asset, later])
        return "expired" in found[asset.pk], "not_yet_valid" in found[later.pk]

    assert flags() == (False, True)
    clock.set(timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min)))
    assert flags() == (True, False)


def test_cold_moves_fall_due_after_exactly_the_policy_days(instant, clock, collection, staff):
    policy = RetentionPolicy.objects.get(key="originals-keep-forever", is_current=True)
    policy_change(policy=policy, actor=staff, cold_after_days=60)
    asset = ingest_picture(collection=collection, colour="red").asset

    clock.advance(days=59, hours=23)
    assert [s.asset.pk for s in retention_plan()] == []
    clock.advance(hours=2)
    (step,) = retention_plan()
    assert (step.asset.pk, step.action, step.target) == (asset.pk, "move", Asset.Tier.COLD)
