"""`candidate.flagged` is written once per stored pair, naming the pair's primary key."""

import threading

import pytest
from django.db import connection

from archive.models import AuditEvent
from dedup import services
from dedup.models import DuplicateCandidate
from dedup.services import candidates_record
from tests.archive.helpers import ingest_bytes
from tests.conftest import image_bytes, make_scene


def _pictures(collection, count=4):
    ids = [
        ingest_bytes(
            image_bytes(make_scene(300 + (i // 2), size=(96, 72)).resize((96 - 8 * (i % 2), 72))),
            collection=collection,
            path=f"{i}.jpg",
        ).asset.pk
        for i in range(count)
    ]
    DuplicateCandidate.objects.all().delete()
    return ids


def _flagged():
    return list(AuditEvent.objects.filter(verb="candidate.flagged").order_by("sequence"))


@pytest.mark.django_db
def test_a_pair_stored_meanwhile_by_another_scan_is_not_flagged_again(collection, monkeypatch):
    a, b, c, d = _pictures(collection)
    judge = services.pair_judge

    def judge_while_another_scan_stores(**kwargs):
        # A concurrent scan stores (a, b) after this one checked which pairs were known.
        if not DuplicateCandidate.objects.filter(asset_a=a, asset_b=b).exists():
            DuplicateCandidate.objects.create(
                asset_a_id=a, asset_b_id=b, kind="derivative", phash_distance=1, dhash_distance=1
            )
        return judge(**kwargs)

    monkeypatch.setattr(services, "pair_judge", judge_while_another_scan_stores)
    before = len(_flagged())

    created = candidates_record(pairs={(a, b): (1, 1), (c, d): (1, 1)}, found_by="scan")

    events = _flagged()[before:]
    stored = DuplicateCandidate.objects.get(asset_a=c, asset_b=d)
    assert [(e.object_type, e.object_id) for e in events] == [
        ("dedup.duplicatecandidate", str(stored.pk))
    ]
    assert [x.pk for x in created] == [stored.pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_flag_each_stored_pair_exactly_once(collection):
    if connection.vendor != "postgresql":
        pytest.skip("a race of real transactions needs PostgreSQL")
    ids = _pictures(collection, count=6)
    pairs = {(ids[i], ids[i + 1]): (1, 1) for i in range(0, 6, 2)}
    pairs.update({(ids[0], ids[2]): (1, 1), (ids[3], ids[5]): (1, 1)})
    start, errors = threading.Barrier(4), []

    def scan():
        start.wait()
        try:
            candidates_record(pairs=pairs, found_by="rolling-scan")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    stored = sorted(str(pk) for pk in DuplicateCandidate.objects.values_list("pk", flat=True))
    flagged = [e.object_id for e in _flagged() if e.after["found_by"] == "rolling-scan"]
    assert sorted(flagged) == stored
    assert len(stored) == len(pairs)
