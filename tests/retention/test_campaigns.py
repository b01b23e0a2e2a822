"""Campaigns: pairs of a scope resolved against a deadline, daily snapshots, burn-down."""

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from archive.errors import ArchiveError
from archive.services import collection_get_or_create
from dedup.models import DuplicateCandidate
from retention.campaign_chart import burndown_svg
from retention.campaigns import (
    PROJECTION_HORIZON_DAYS,
    campaign_progress,
    campaign_save,
    campaign_snapshot_take,
    projection,
)
from retention.models import Campaign, CampaignSnapshot
from retention.tasks import campaign_snapshots_task
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene

DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))


class TestProjection:
    @given(remaining=st.integers(1, 10**6), today=DAYS, deadline=DAYS, window=st.integers(1, 30))
    def test_no_decisions_means_no_finish_date_and_not_on_track(
        self, remaining, today, deadline, window
    ):
        plan = projection(
            remaining=remaining, decided=0, window_days=window, today=today, deadline=deadline
        )
        assert plan.finish is None
        assert plan.on_track is False
        assert plan.per_day == 0

    @given(today=DAYS, deadline=DAYS, decided=st.integers(0, 1000), window=st.integers(1, 30))
    def test_nothing_remaining_is_finished_whatever_the_rate_or_deadline(
        self, today, deadline, decided, window
    ):
        plan = projection(
            remaining=0, decided=decided, window_days=window, today=today, deadline=deadline
        )
        assert (plan.status, plan.finish, plan.on_track) == ("finished", today, True)

    @given(
        remaining=st.integers(1, 10**6),
        decided=st.integers(1, 10**5),
        window=st.integers(1, 30),
        today=DAYS,
        offset=st.integers(-400, 400),
    )
    def test_the_finish_is_the_day_the_rate_clears_the_remainder(
        self, remaining, decided, window, today, offset
    ):
        deadline = today + timedelta(days=offset)
        plan = projection(
            remaining=remaining, decided=decided, window_days=window, today=today, deadline=deadline
        )
        days = math.ceil(remaining / (decided / window))
        if days > PROJECTION_HORIZON_DAYS:
            assert plan.finish is None
            return
        assert plan.finish == today + timedelta(days=days - 1)
        assert plan.finish >= today
        assert plan.on_track is (plan.finish <= deadline)
        if offset < 0:
            # Past the deadline: nothing left can be on track, and no rate is "needed".
            assert (plan.status, plan.on_track, plan.needed_per_day) == (
                "past deadline",
                False,
                None,
            )
        else:
            assert plan.needed_per_day == pytest.approx(remaining / (offset + 1))

    @given(
        remaining=st.integers(1, 10**5),
        more=st.integers(0, 10**5),
        decided=st.integers(1, 1000),
        today=DAYS,
    )
    def test_more_work_never_finishes_sooner(self, remaining, more, decided, today):
        args = {"decided": decided, "window_days": 7, "today": today, "deadline": today}
        first = projection(remaining=remaining, **args).finish
        second = projection(remaining=remaining + more, **args).finish
        assert second is None or (first is not None and second >= first)

    def test_bad_counts_are_refused(self):
        with pytest.raises(ValueError):
            projection(remaining=-1, decided=0, window_days=7, today=date.min, deadline=date.min)


# --- The campaign's figures -----------------------------------------------------------------


@pytest.fixture
def world(db, clock, staff):
    """Two collections, four assets in Permits and two in Press; the clock on 1 July."""
    clock.set(datetime(2031, 7, 1, 9, 0, tzinfo=UTC))
    permits = collection_get_or_create(name="Permits")
    press = collection_get_or_create(name="Press")
    assets = [
        ingest_bytes(image_bytes(make_scene(seed)), collection=c, path=f"{seed}.jpg").asset
        for seed, c in enumerate([permits] * 4 + [press] * 2)
    ]
    # Pairs are put in place directly, so the figures do not depend on the judge.
    DuplicateCandidate.objects.all().delete()
    campaign = Campaign(
        name="Permits clean-up",
        owner=staff,
        starts_on=date(2031, 7, 1),
        deadline=date(2031, 7, 31),
    )
    campaign_save(campaign=campaign, collections=[permits], actor=staff)
    return {"campaign": campaign, "assets": assets, "clock": clock, "staff": staff}


def pair(a, b, kind, status="pending", decided_at=None):
    a, b = sorted([a, b], key=lambda x: x.pk)
    return DuplicateCandidate.objects.create(
        asset_a=a,
        asset_b=b,
        kind=kind,
        phash_distance=0,
        dhash_distance=0,
        status=status,
        decided_at=decided_at,
    )


def resolve(candidate, when, status="confirmed"):
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(status=status, decided_at=when)


class TestCampaignProgress:
    def test_resolved_and_remaining_by_kind_and_collection(self, world):
        p1, p2, p3, p4, x1, x2 = world["assets"]
        first = pair(p1, p2, "exact")
        pair(p2, p3, "pixel")
        pair(p3, x1, "derivative")  # across collections: in scope through p3
        pair(x1, x2, "similar")  # out of scope
        resolve(first, datetime(2031, 7, 1, 10, tzinfo=UTC))

        progress = campaign_progress(campaign=world["campaign"])

        assert (progress["total"], progress["resolved"], progress["remaining"]) == (3, 1, 2)
        kinds = {row["kind"]: row for row in progress["by_kind"]}
        assert kinds["exact"] == {"kind": "exact", "total": 1, "resolved": 1, "remaining": 0}
        assert kinds["similar"]["total"] == 0
        assert {r["collection"]: r["total"] for r in progress["by_collection"]} == {"Permits": 3}
        # p1-p2-p3-x1 are joined into one group, still open.
        assert progress["groups"] == {"total": 1, "resolved": 0, "remaining": 1}

    def test_decisions_per_day_give_the_rate_and_the_projected_finish(self, world):
        p1, p2, p3, p4, *_ = world["assets"]
        pairs = [pair(a, b, "exact") for a, b in [(p1, p2), (p1, p3), (p1, p4), (p2, p3)]]
        pairs += [pair(a, b, "pixel") for a, b in [(p2, p4), (p3, p4)]]
        clock = world["clock"]
        resolve(pairs[0], datetime(2031, 7, 1, 12, tzinfo=UTC))
        resolve(pairs[1], datetime(2031, 7, 2, 12, tzinfo=UTC))
        clock.set(datetime(2031, 7, 2, 18, tzinfo=UTC))

        progress = campaign_progress(campaign=world["campaign"])

        assert [d["decisions"] for d in progress["decisions_per_day"]] == [1, 1]
        assert progress["rate"] == {"window_days": 2, "decisions": 2, "per_day": 1.0}
        # Four left at one a day, today counting: done on 5 July, well before the 31st.
        assert progress["projection"]["finish"] == date(2031, 7, 5)
        assert progress["projection"]["status"] == "on track"

    def test_no_decisions_yet_has_no_projection(self, world):
        p1, p2, *_ = world["assets"]
        pair(p1, p2, "exact")

        plan = campaign_progress(campaign=world["campaign"])["projection"]

        assert (plan["finish"], plan["status"]) == (None, "no decisions yet")

    def test_the_date_range_narrows_the_scope(self, world):
        p1, p2, *_ = world["assets"]
        pair(p1, p2, "exact")
        campaign = world["campaign"]
        campaign.ingested_from = date(2031, 8, 1)
        campaign_save(
            campaign=campaign, collections=campaign.collections.all(), actor=world["staff"]
        )

        assert campaign_progress(campaign=campaign)["total"] == 0

    def test_a_campaign_needs_a_collection_and_a_deadline_after_its_start(self, world):
        campaign = world["campaign"]
        with pytest.raises(ArchiveError, match="at least one collection"):
            campaign_save(campaign=campaign, collections=[], actor=world["staff"])
        campaign.deadline = date(2031, 6, 1)
        with pytest.raises(Exception, match="campaign_deadline_after_start"):
            campaign_save(
                campaign=campaign, collections=campaign.collections.all(), actor=world["staff"]
            )


class TestSnapshots:
    def test_one_snapshot_a_day_and_history_survives_later_changes(self, world):
        p1, p2, p3, *_ = world["assets"]
        first = pair(p1, p2, "exact")
        campaign_snapshots_task()
        resolve(first, datetime(2031, 7, 1, 11, tzinfo=UTC))
        campaign_snapshots_task()  # the same day again: the first write stays

        [snapshot] = CampaignSnapshot.objects.all()
        assert (snapshot.day, snapshot.remaining) == (date(2031, 7, 1), 1)

        world["clock"].set(datetime(2031, 7, 2, 9, tzinfo=UTC))
        pair(p2, p3, "pixel")
        campaign_snapshot_take(campaign=world["campaign"])

        rows = list(
            CampaignSnapshot.objects.order_by("day").values_list("day", "total", "remaining")
        )
        assert rows == [(date(2031, 7, 1), 1, 1), (date(2031, 7, 2), 2, 1)]

    def test_a_campaign_not_started_gets_no_snapshot(self, world):
        world["clock"].set(datetime(2031, 6, 1, 9, tzinfo=UTC))
        assert campaign_snapshots_task() == "0 campaigns"


class TestBurndown:
    def test_the_chart_is_plain_svg_with_the_series_ideal_and_projection(self, world):
        p1, p2, p3, *_ = world["assets"]
        first = pair(p1, p2, "exact")
        pair(p2, p3, "pixel")
        campaign_snapshot_take(campaign=world["campaign"])
        resolve(first, datetime(2031, 7, 2, 11, tzinfo=UTC))
        world["clock"].set(datetime(2031, 7, 2, 12, tzinfo=UTC))

        svg = burndown_svg(campaign_progress(campaign=world["campaign"]))

        root = ET.fromstring(svg)  # noqa: S314 - the project's own output
        ns = "{http://www.w3.org/2000/svg}"
        assert root.tag == f"{ns}svg"
        assert "script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
        classes = {el.get("class") for el in root.iter() if el.get("class")}
        assert {"remaining", "ideal", "deadline", "projection"} <= classes
        [line] = [el for el in root.iter(f"{ns}polyline")]
        assert len(line.get("points").split()) == 2  # the snapshot and today

    def test_a_name_with_markup_is_escaped(self, world):
        campaign = world["campaign"]
        campaign.name = "<script>alert(1)</script>"
        svg = burndown_svg(campaign_progress(campaign=campaign))
        assert "<script>" not in svg
        ET.fromstring(svg)  # noqa: S314 - the project's own output


class TestCommandAndApi:
    def test_the_command_gives_json_and_csv(self, world, capsys):
        p1, p2, *_ = world["assets"]
        pair(p1, p2, "exact")

        call_command("campaign_progress", "Permits clean-up", "--format", "json")
        data = json.loads(capsys.readouterr().out)
        assert (data["total"], data["remaining"]) == (1, 1)

        call_command("campaign_progress", "Permits clean-up", "--format", "csv")
        rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
        assert ["all", "", "1", "0", "1"] in rows

    def test_an_unknown_campaign_is_a_clear_error(self, db):
        from django.core.management import CommandError

        with pytest.raises(CommandError, match="No campaign"):
            call_command("campaign_progress", "nothing")

    def test_the_api_answers_the_same_figures(self, world, client):
        p1, p2, *_ = world["assets"]
        pair(p1, p2, "exact")
        client.force_login(world["staff"])

        response = client.get(f"/api/v1/campaigns/{world['campaign'].pk}/progress/")

        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["remaining"], body["campaign"]["name"]) == (
            1,
            1,
            "Permits clean-up",
        )
        assert client.get("/api/v1/campaigns/999999/progress/").status_code == 404

    def test_the_api_creates_a_campaign_and_refuses_bad_input(self, world, client):
        client.force_login(world["staff"])
        body = {
            "name": "Press",
            "collections": ["Press"],
            "starts_on": "2031-07-01",
            "deadline": "2031-08-01",
        }
        assert (
            client.post("/api/v1/campaigns/", body, content_type="application/json").status_code
            == 201
        )
        bad = {**body, "name": "Other", "collections": ["Nope"]}
        response = client.post("/api/v1/campaigns/", bad, content_type="application/json")
        assert response.status_code == 409  # unknown_reference
        late = {**body, "name": "Late", "deadline": "2031-06-01"}
        assert (
            client.post("/api/v1/campaigns/", late, content_type="application/json").status_code
            == 400
        )
