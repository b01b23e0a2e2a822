"""Moments typed by people, made storable.

Python reads ISO 8601 times with UTC offsets up to ±23:59 and years 1 to 9999; PostgreSQL
refuses offsets beyond ±15:59, and a moment near either end of the calendar can leave it
once moved to UTC. Every moment a user gives goes through here before it reaches a query
or a row, so both databases see the same instant in UTC.
"""

import datetime as dt

from django.utils import timezone

# A day inside the calendar's ends, so a database adapter that moves the bound into its
# own time zone cannot push it off again.
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=dt.UTC)


class MomentOffCalendar(ValueError):
    """The moment, moved to UTC, falls before year 1 or after year 9999."""


def moment_storable(moment: dt.datetime, *, clamp: bool = True) -> dt.datetime:
    """The same instant in UTC (a naive moment is read in the current time zone).

    A moment that leaves the calendar in UTC becomes its edge when `clamp` (right for a
    filter bound: nothing stored lies beyond it); otherwise MomentOffCalendar is raised
    (right for a moment that will be stored).
    """
    if timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment)
        except (OverflowError, ValueError) as exc:
            raise MomentOffCalendar(str(exc)) from exc
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError as exc:
        if not clamp:
            raise MomentOffCalendar(
                f"{moment.isoformat()} is outside years 1 to 9999 in UTC"
            ) from exc
        return EARLIEST if moment.utcoffset() > dt.timedelta(0) else LATEST
