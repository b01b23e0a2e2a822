"""Guarded actions on two assets of one family at once never deadlock.

Two duplicates replaced by the same canonical are one family: the hold check of an action
on either share-locks every member (so a hold placed meanwhile on any of them waits). Two
workers of the enforcement job quarantining (or purging) the two siblings at the same
moment must take those row locks in one order; otherwise each holds its own asset and
waits for the other's, and PostgreSQL aborts one of them.
"""

import threading

import pytest
from django.db import OperationalError, connection, connections

from archive import holds
from archive.actors import SYSTEM
from archive.audit import audited
from archive.lifecycle import Transition, asset_transition, assets_lock
from archive.models import Asset
from retention.models import DispositionItem
from retention.purge import (
    disposition_item_execute,
    disposition_request_approve,
    disposition_request_create,
)
from retention.services import asset_quarantine
from tests.archive.helpers import ingest_picture
from tests.retention.conftest import window_closed

DEADLOCK = "40P01"


def _family(collection) -> tuple[Asset, Asset, Asset]:
    """A canonical and two duplicates it replaced (as a consolidation leaves them)."""
    ids = [
        ingest_picture(collection=collection, colour=colour).asset.pk
        for colour in ("navy", "olive", "coral")
    ]
    with audited():
        locked = assets_lock(ids)
        canonical = locked[ids[0]]
        for pk in ids[1:]:
            asset_transition(
                asset=locked[pk],
                transition=Transition.REPLACE,
                actor=SYSTEM,
                changes={"replaced_by": canonical},
            )
    return tuple(Asset.objects.get(pk=pk) for pk in ids)


def _race(monkeypatch, actions) -> list[Exception]:
    """Run the actions in threads that each hold their own asset before locking the family."""
    original, gate = holds._share_lock_holds_scope, threading.Barrier(len(actions))
    local = threading.local()
    deadlocks, errors = [], []

    def family_share_lock(**kwargs):
        if not getattr(local, "waited", False):
            local.waited = True
            try:
                # Every worker has locked its own asset by now (or waits to lock one).
                gate.wait(timeout=3)
            except threading.BrokenBarrierError:
                pass
        try:
            return original(**kwargs)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == DEADLOCK:
                deadlocks.append(exc)
            raise

    monkeypatch.setattr(holds, "_share_lock_holds_scope", family_share_lock)

    def run(action):
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return deadlocks


@pytest.mark.django_db(transaction=True)
def test_siblings_quarantined_at_once_do_not_deadlock(collection, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race on PostgreSQL; SQLite serialises writers")
    _canonical, first, second = _family(collection)

    deadlocks = _race(
        monkeypatch,
        [
            lambda asset=asset: asset_quarantine(asset=asset, reason="replaced", actor=SYSTEM)
            for asset in (second, first)
        ],
    )

    assert deadlocks == []
    states = Asset.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True)
    assert list(states) == [Asset.State.QUARANTINED] * 2


@pytest.mark.django_db(transaction=True)
def test_siblings_purged_at_once_do_not_deadlock(collection, requester, approver, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race on PostgreSQL; SQLite serialises writers")
    _canonical, first, second = _family(collection)
    for asset in (first, second):
        asset_quarantine(asset=asset, reason="replaced", actor=SYSTEM)
        window_closed(asset)
    request = disposition_request_create(
        assets=[first, second], reason="windows closed", actor=requester
    )
    disposition_request_approve(request=request, actor=approver)
    items = list(DispositionItem.objects.filter(request=request).order_by("-asset_id"))

    deadlocks = _race(
        monkeypatch,
        [lambda item=item: disposition_item_execute(item=item, actor=approver) for item in items],
    )

    assert deadlocks == []
    states = Asset.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True)
    assert list(states) == [Asset.State.PURGED] * 2
