"""Dates typed into an admin list's URL: the date drill-down and date filters of every list.

The values are searched, not listed: any year, month and day a URL can carry, and any ISO
8601 moment with any offset Python reads. The list answers (filtered, or back unfiltered
with a message), never a 500.
"""

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.admin import DateFieldListFilter
from django.db import models
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.test_moments import moments

# Transactional: a query the database refuses must not leave the request's connection
# unusable, as it would inside a test's enclosing transaction.
pytestmark = pytest.mark.django_db(transaction=True)

SEARCH = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def changelists():
    """(url, date drill-down field, date filter fields) of every registered list."""
    found = []
    for model, model_admin in admin.site._registry.items():
        dated = []
        for entry in model_admin.list_filter:
            name = (
                entry if isinstance(entry, str) else entry[0] if isinstance(entry, tuple) else None
            )
            if name is None:
                continue
            field = model._meta.get_field(name)
            filter_class = entry[1] if isinstance(entry, tuple) else None
            if isinstance(field, models.DateField) and (
                filter_class is None or issubclass(filter_class, DateFieldListFilter)
            ):
                dated.append(name)
        if model_admin.date_hierarchy or dated:
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            found.append((url, model_admin.date_hierarchy, dated))
    return found


LISTS = changelists()


def test_the_search_covers_lists_with_dates():
    assert any(hierarchy for _, hierarchy, _ in LISTS)
    assert any(dated for _, _, dated in LISTS)


def _answers_plainly(client, url, params):
    answer = client.get(url, params)
    assert answer.status_code in (200, 302), (url, params, answer.status_code)
    if answer.status_code == 302:
        # Django's own answer to a lookup it cannot read (?e=1), or ours to one the
        # database cannot run: back to the list, said so.
        landed = client.get(answer["Location"])
        assert landed.status_code == 200
        assert "e=1" in answer["Location"] or b"could not be applied" in landed.content
    return answer


numbers = st.one_of(st.integers(min_value=-10, max_value=10_000), st.integers().map(abs))


@given(year=numbers, month=numbers, day=numbers)
@example(year=9999, month=12, day=31)
@example(year=99999999999999999999, month=1, day=1)
@example(year=1, month=1, day=1)
@SEARCH
def test_a_date_drill_down_never_fails(admin_client, year, month, day):
    for url, hierarchy, _ in LISTS:
        if hierarchy:
            params = {
                f"{hierarchy}__year": year,
                f"{hierarchy}__month": month,
                f"{hierarchy}__day": day,
            }
            _answers_plainly(admin_client, url, params)


@given(moment=moments())
@example(
    moment=dt.datetime(
        229, 1, 17, 8, 54, 57, tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=12))
    )
)
@example(moment=dt.datetime.max.replace(tzinfo=dt.timezone(-dt.timedelta(hours=20))))
@SEARCH
def test_a_date_filter_never_fails(admin_client, moment):
    for url, _, dated in LISTS:
        for name in dated:
            for lookup in ("gte", "lt"):
                _answers_plainly(admin_client, url, {f"{name}__{lookup}": moment.isoformat()})


def test_a_date_filter_that_the_database_can_use_still_filters(admin_client):
    url, _, dated = next(entry for entry in LISTS if entry[2])
    answer = admin_client.get(url, {f"{dated[0]}__gte": "2001-02-03T04:05:06+01:00"})
    assert answer.status_code == 200
