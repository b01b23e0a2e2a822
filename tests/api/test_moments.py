"""Moments typed by users: any ISO 8601 time Python reads, with any UTC offset it allows.

Python accepts offsets up to ±23:59 and years 1 to 9999; PostgreSQL refuses offsets beyond
±15:59, and a moment near year 1 or 9999 can leave the calendar once moved to UTC. Every
moment a user sends is searched over that whole space here: the answer is never a 500, and
what the filter selects is exactly what the moment means.
"""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.audit_export import audit_export_filter_parse
from archive.models import AuditEvent
from archive.moments import EARLIEST, LATEST, moment_storable
from archive.services import collection_get_or_create
from retention.models import QuarantineRecord
from retention.services import asset_quarantine
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def offsets(draw) -> dt.timezone:
    minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    return dt.timezone(dt.timedelta(minutes=minutes))


def moments():
    """Any aware moment Python can write, from year 1 to 9999, with any offset it allows."""
    return st.builds(
        lambda naive, zone: naive.replace(tzinfo=zone),
        st.datetimes(),  # years 1 to 9999, naive
        offsets(),
    )


EDGES = [
    dt.datetime(
        229, 1, 17, 8, 54, 57, 926360, tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=12))
    ),
    dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=5))),
    dt.datetime.max.replace(tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=59))),
]


@pytest.fixture
def quarantined(members):
    collection = collection_get_or_create(name="Field photos")
    for colour in ("teal", "navy", "olive"):
        asset = ingest_picture(collection=collection, colour=colour).asset
        asset_quarantine(asset=asset, reason="superseded", actor=members["Archivist"])
    return list(QuarantineRecord.objects.values_list("pk", "restore_deadline"))


@given(moment=moments())
@example(moment=EDGES[0])
@example(moment=EDGES[1])
@example(moment=EDGES[2])
@HOSTILE
def test_a_quarantine_deadline_filter_selects_what_the_moment_means(clients, quarantined, moment):
    answer = clients["Archivist"].get(
        "/api/v1/quarantine/", {"deadline_before": moment.isoformat()}
    )

    assert answer.status_code == 200, answer.content[:400]
    listed = {row["id"] for row in answer.json()["results"]}
    assert listed == {pk for pk, deadline in quarantined if deadline <= moment}


def near_now():
    """Moments within two days of the test's own clock, where the events are."""
    return st.builds(
        lambda delta, zone: (timezone.now() + delta).astimezone(zone),
        st.timedeltas(min_value=-dt.timedelta(days=2), max_value=dt.timedelta(days=2)),
        offsets(),
    )


@given(since=st.one_of(moments(), near_now()), until=st.one_of(moments(), near_now()))
@example(since=EDGES[1], until=EDGES[0])
@example(since=EDGES[0], until=EDGES[2])
@example(since=EDGES[1], until=EDGES[2])
@HOSTILE
def test_audit_event_filters_select_what_the_moments_mean(clients, quarantined, since, until):
    answer = clients["Compliance"].get(
        "/api/v1/audit/events/",
        {"since": since.isoformat(), "until": until.isoformat(), "page_size": 500},
    )

    assert answer.status_code == 200, answer.content[:400]
    listed = {row["sequence"] for row in answer.json()["results"]}
    events = AuditEvent.objects.values_list("sequence", "created_at")
    assert listed == {pk for pk, created in events if since <= created < until}


@given(moment=moments())
@example(moment=EDGES[1])
@example(moment=EDGES[2])
@settings(max_examples=200, deadline=None)
def test_a_storable_moment_is_the_same_instant_or_the_calendar_edge(moment):
    stored = moment_storable(moment)

    assert stored.utcoffset() == dt.timedelta(0)
    try:
        exact = moment.astimezone(dt.UTC)
    except OverflowError:
        assert stored in (EARLIEST, LATEST)
        assert (stored == EARLIEST) == (moment.utcoffset() > dt.timedelta(0))
    else:
        assert stored == exact


@pytest.mark.parametrize("moment", EDGES, ids=["far-west-offset", "before-year-1", "after-9999"])
def test_commands_read_any_moment_without_crashing(quarantined, moment, tmp_path):
    text = moment.isoformat()
    assert audit_export_filter_parse(since=text).since.utcoffset() == dt.timedelta(0)
    out = tmp_path / "events.csv"

    call_command("export_audit", "--since", text, "--output", str(out))
    call_command("scan_duplicates", "--since", text, "--output", str(tmp_path / "pairs.json"))

    wanted = {
        pk
        for pk, created in AuditEvent.objects.values_list("pk", "created_at")
        if created >= moment
    }
    assert out.read_text(encoding="utf-8").count("\n") >= len(wanted)


def test_a_release_time_off_the_calendar_is_refused_plainly(quarantined, tmp_path):
    with pytest.raises(CommandError, match="released-at .* outside years 1 to 9999"):
        call_command(
            "release_dataset",
            "--collection",
            "Field photos",
            "--output",
            str(tmp_path / "release"),
            "--released-at",
            EDGES[1].isoformat(),
        )
