"""How events are read back for hashing and export, searched over what an event can hold.

The chain is verified from rows as the database returns them: the time as the chain wrote
it and the JSON fields as stored. The PostgreSQL reader formats the time in SQL and parses
the JSON itself; whatever the values, it must give what the generic reader gives, and every
event must still verify after the round trip through the database.
"""

import datetime as dt
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.actors import SYSTEM
from archive.audit import _timestamp, audit_record, audit_verify, compact_encoder, event_rows
from archive.models import AuditEvent

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=json_values | st.dictionaries(st.text(), json_values, max_size=5))
@settings(max_examples=300, deadline=None)
def test_the_reusable_encoder_writes_what_json_dumps_writes(value):
    for ascii_only in (True, False):
        expected = json.dumps(
            value,
            cls=DjangoJSONEncoder,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=ascii_only,
        )
        assert compact_encoder(ensure_ascii=ascii_only)(value) == expected


@given(
    afters=st.lists(
        st.dictionaries(st.text(max_size=6), json_values, max_size=4), min_size=1, max_size=5
    )
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_events_read_back_verify_whatever_they_hold(afters):
    with transaction.atomic():
        for after in afters:
            audit_record(
                actor=SYSTEM, verb="probe.recorded", object_type="probe", object_id="1", after=after
            )

    events = AuditEvent.objects.order_by("sequence")
    rows = list(event_rows(events))
    fields = list(rows[0])
    generic = [
        {**row, "created_at": _timestamp(row["created_at"])} for row in events.values(*fields)
    ]
    assert rows == generic
    report = audit_verify()
    assert report.ok, report.problem


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the SQL-formatted time is PostgreSQL's"
)
@given(moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)))
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_postgresql_writes_an_event_time_exactly_as_the_chain_hashes_it(moment):
    from archive.audit import _HashedStamp

    moment = moment.replace(tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        sql = _HashedStamp.template % {"expressions": "%s::timestamptz"}
        cursor.execute(f"SELECT {sql}", [moment])
        assert cursor.fetchone()[0] == _timestamp(moment)
