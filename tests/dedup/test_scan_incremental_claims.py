"""Rolling scans claim their fingerprints: however many run at once, however many die
midway, every new fingerprint is scanned by exactly one finished scan.

A finished incremental `ScanRun` covers the fingerprints with ids in
(parameters["since_fingerprint"], high_water_fingerprint_id]; two finished runs covering
the same fingerprint mean it was looked up, judged and counted twice.
"""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.models import AuditEvent
from dedup import services
from dedup.models import DuplicateCandidate, Fingerprint, ScanRun
from tests.dedup.helpers import flip_bits, synthetic_fingerprints


class WorkerDied(Exception):
    pass


def _codes(rng, count: int) -> list[int]:
    # Pairs of near copies, so the scans have candidates to record.
    codes = []
    while len(codes) < count:
        code = rng.getrandbits(64)
        codes += [code, flip_bits(code, 2, rng)]
    return codes[:count]


def _covered() -> Counter:
    """How many finished incremental runs cover each fingerprint id."""
    ids = list(Fingerprint.objects.values_list("pk", flat=True))
    covered = Counter()
    for run in ScanRun.objects.filter(incremental=True, finished_at__isnull=False):
        since, high = run.parameters["since_fingerprint"], run.high_water_fingerprint_id
        covered.update(pk for pk in ids if since < pk <= high)
    return covered


def _assert_each_scanned_once() -> None:
    ids = list(Fingerprint.objects.values_list("pk", flat=True))
    covered = _covered()
    assert {pk: n for pk, n in covered.items() if n != 1} == {}
    assert sorted(covered) == sorted(ids)
    finished = ScanRun.objects.filter(incremental=True, finished_at__isnull=False)
    assert sum(run.summary["fingerprints"] for run in finished) == len(ids)
    # Each stored pair was flagged (audited) once.
    flagged = Counter(
        AuditEvent.objects.filter(verb="candidate.flagged").values_list("object_id", flat=True)
    )
    assert set(flagged.values()) <= {1}
    assert len(flagged) == DuplicateCandidate.objects.count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("workers", "chunk"), [(2, None), (4, 3), (3, 7)])
def test_concurrent_rolling_scans_scan_each_fingerprint_once(
    collection, monkeypatch, workers, chunk
):
    if connection.vendor != "postgresql":
        pytest.skip("a race of real transactions needs PostgreSQL")
    import random

    synthetic_fingerprints(collection=collection, codes=_codes(random.Random(workers), 24))
    lookup = services._near_pairs

    def slow_lookup(fingerprint, **kwargs):
        # Long enough for every worker to start while the others are still scanning.
        time.sleep(0.02)
        return lookup(fingerprint, **kwargs)

    monkeypatch.setattr(services, "_near_pairs", slow_lookup)
    start, errors = threading.Barrier(workers), []

    def scan():
        start.wait()
        try:
            services.scan_incremental(**({} if chunk is None else {"chunk": chunk}))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert ScanRun.objects.filter(incremental=True, finished_at__isnull=True).count() == 0
    _assert_each_scanned_once()
    assert DuplicateCandidate.objects.count() >= 1


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.integers(1, 6)),
        st.tuples(st.just("scan"), st.integers(1, 5)),
        # A worker that dies after looking up this many fingerprints of its claim.
        st.tuples(st.just("die"), st.integers(1, 5), st.integers(0, 4)),
        # Time passes: the claims of dead workers run out.
        st.tuples(st.just("later")),
    ),
    max_size=10,
)


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS, seed=st.integers(0, 2**16))
def test_scans_that_die_midway_are_taken_over_never_repeated(collection, steps, seed):
    import random

    rng = random.Random(seed)
    lookup = services._near_pairs
    try:
        with transaction.atomic():
            for step in steps:
                _step(step, collection, rng, lookup)
                # A claim is never taken over before its lease ends.
                assert set(_covered().values()) <= {1}
            _step(("later",), collection, rng, lookup)
            services.scan_incremental(chunk=4)
            _assert_each_scanned_once()
            raise _Rollback
    except _Rollback:
        pass
    finally:
        services._near_pairs = lookup


class _Rollback(Exception):
    pass


def _step(step, collection, rng, lookup) -> None:
    kind = step[0]
    if kind == "ingest":
        synthetic_fingerprints(collection=collection, codes=_codes(rng, step[1]))
    elif kind == "scan":
        services.scan_incremental(chunk=step[1])
    elif kind == "die":
        _chunk, survives = step[1], step[2]
        looked = []

        def dying_lookup(fingerprint, **kwargs):
            if len(looked) >= survives:
                raise WorkerDied
            looked.append(fingerprint.pk)
            return lookup(fingerprint, **kwargs)

        services._near_pairs = dying_lookup
        try:
            # What the worker committed (its claim, chunks it finished) stays.
            services.scan_incremental(chunk=_chunk)
        except WorkerDied:
            pass
        finally:
            services._near_pairs = lookup
    else:
        ScanRun.objects.filter(finished_at__isnull=True).update(
            started_at=F("started_at") - services.SCAN_LEASE - timedelta(seconds=1)
        )
