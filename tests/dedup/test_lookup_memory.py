"""The in-memory lookup finds exactly what brute force over the stored rows finds.

dedup.codeindex is searched over random and clustered codes, every band count and k; the
process index of dedup.lookup_memory is driven by a hypothesis state machine that adds,
replaces, hides and deletes fingerprints, moves the clock (catch-ups, rebuilds) and
commits changes late (within the slack), and after every step compares near_lookup with a
brute-force scan of its model and with the database's own index.
"""

import datetime as dt
import random

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from dedup import lookup_memory
from dedup.codeindex import MAX_BANDS, MIN_BANDS, CodeIndex, plan_bands
from dedup.imaging import signed64
from dedup.index import database_near_lookup, near_lookup, phash_bands
from dedup.lookup_memory import memory_lookup_reset, memory_lookup_stats
from dedup.models import Fingerprint
from tests.dedup.helpers import flip_bits, synthetic_fingerprints

MASK = (1 << 64) - 1


def brute(ids, codes, query, k):
    return {
        int(i): (int(c) ^ query).bit_count()
        for i, c in zip(ids, codes, strict=True)
        if (int(c) ^ query).bit_count() <= k
    }


@st.composite
def code_sets(draw):
    """Codes around a few centres (the clustered case) plus uniform ones, and queries."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    centres = [rng.getrandbits(64) for _ in range(draw(st.integers(1, 4)))]
    codes = [flip_bits(rng.choice(centres), rng.randint(0, 14), rng) for _ in range(300)]
    codes += [rng.getrandbits(64) for _ in range(draw(st.integers(0, 300)))]
    codes += [MASK, 0, 1 << 63]
    queries = [flip_bits(rng.choice(centres), rng.randint(0, 6), rng) for _ in range(4)]
    return codes, queries + [rng.choice(codes)]


@given(
    data=code_sets(),
    bands=st.sampled_from([0, *range(MIN_BANDS, MAX_BANDS + 1)]),
    k=st.integers(0, 20),
)
@hsettings(max_examples=60, deadline=None)
def test_code_index_equals_brute_force(data, bands, k):
    codes, queries = data
    ids = np.arange(1000, 1000 + len(codes), dtype=np.int64)
    array = np.array(codes, dtype=np.uint64)
    index = CodeIndex(ids=ids, codes=array, k=10, bands=bands)
    for query in queries:
        found, distances = index.near(code=query, k=k)
        assert dict(zip(found.tolist(), distances.tolist(), strict=True)) == brute(
            ids, codes, query, k
        )


def test_plan_widens_bands_with_size():
    # Small arrays are scanned whole; at millions the bands approach log2 N bits.
    assert plan_bands(n=1_000, k=10) == 0
    assert plan_bands(n=10_000_000, k=10) == 3
    with pytest.raises(ValueError, match="bands must be"):
        CodeIndex(ids=np.arange(3), codes=np.arange(3, dtype=np.uint64), k=10, bands=2)


def test_binary_copy_parse_refuses_other_streams():
    with pytest.raises(ValueError, match="binary COPY"):
        lookup_memory._parse_binary_copy(b"1\t2\n")


@pytest.fixture
def memory_on(settings, monkeypatch):
    """Every lookup of this test goes through the process's in-memory index."""
    settings.KEEPSAKE_LOOKUP_MEMORY_FROM = 1
    monkeypatch.setattr(lookup_memory, "RECHECK_EVERY", 0.0)
    memory_lookup_reset()
    yield
    memory_lookup_reset()


@pytest.mark.django_db
def test_memory_lookup_equals_database_lookup(collection, memory_on):
    rng = random.Random(20261203)
    seeds = [rng.getrandbits(64) for _ in range(5)]
    codes = [rng.getrandbits(64) for _ in range(800)]
    for seed in seeds:
        codes += [flip_bits(seed, d, rng) for d in range(18)]
    ids = synthetic_fingerprints(collection=collection, codes=codes, low_information={3, 500})
    for query in [*seeds, *rng.sample(codes, 10)]:
        for k in (4, 10, 12, 16):
            assert near_lookup(phash=query, k=k) == database_near_lookup(phash=query, k=k)
    assert memory_lookup_stats()["size"] == len(ids) - 2  # flat images stay out


@pytest.mark.django_db
def test_database_answers_below_the_threshold(collection, settings):
    settings.KEEPSAKE_LOOKUP_MEMORY_FROM = 0
    memory_lookup_reset()
    synthetic_fingerprints(collection=collection, codes=[5, 7])
    assert near_lookup(phash=5, k=2) and memory_lookup_stats() == {}


@pytest.mark.django_db
def test_index_loads_once_the_table_reaches_the_threshold(collection, settings, monkeypatch):
    monkeypatch.setattr(lookup_memory, "RECHECK_EVERY", 0.0)
    synthetic_fingerprints(collection=collection, codes=[5, 7, 9])
    settings.KEEPSAKE_LOOKUP_MEMORY_FROM = 4
    # 5, 7 and 9 are 0, 1 and 2 bits from 5; three rows are below the threshold.
    assert sorted(near_lookup(phash=5, k=2).values()) == [0, 1, 2]
    assert memory_lookup_stats() == {}
    synthetic_fingerprints(collection=collection, codes=[13])
    found = near_lookup(phash=5, k=2)
    assert memory_lookup_stats()["size"] == 4
    assert found == database_near_lookup(phash=5, k=2)
    assert sorted(found.values()) == [0, 1, 1, 2]


@pytest.mark.django_db
def test_overlapping_catch_ups_hold_each_change_once(collection, clock, memory_on):
    clock.set(START, tick=False)
    ids = synthetic_fingerprints(collection=collection, codes=[1, 2, 4, 8])
    clock.advance(dt.timedelta(seconds=120))  # the load is past the slack: a clean base
    assert near_lookup(phash=0, k=1) == {ids[0]: 1, ids[1]: 1, ids[2]: 1, ids[3]: 1}
    code = 3
    values = {"phash": code, "dhash": code, "computed_at": timezone.now()}
    values |= {f"phash_b{b}": v for b, v in enumerate(phash_bands(phash=code))}
    Fingerprint.objects.filter(asset_id=ids[0]).update(**values)
    # Two catch-ups 15 s apart both read the change (it is within the slack of each).
    for _ in range(2):
        clock.advance(dt.timedelta(seconds=15))
        assert near_lookup(phash=0, k=2) == {ids[0]: 2, ids[1]: 1, ids[2]: 1, ids[3]: 1}
    assert memory_lookup_stats()["changes"] == 1


START = dt.datetime(2031, 5, 1, 9, tzinfo=dt.UTC)


class MemoryLookupMachine(RuleBasedStateMachine):
    """The model: asset id -> (code, searchable) of every stored fingerprint."""

    env = None

    def __init__(self):
        super().__init__()
        self.clock, self.collection = type(self).env
        self.clock.set(START, tick=False)
        memory_lookup_reset()
        self.sid = transaction.savepoint()
        self.rows: dict[int, tuple[int, bool]] = {}
        self.centres: list[int] = []

    def teardown(self):
        transaction.savepoint_rollback(self.sid)
        memory_lookup_reset()

    def _now(self):
        return timezone.now()

    def _code(self, data) -> int:
        if self.centres and data.draw(st.booleans()):
            rng = random.Random(data.draw(st.integers(0, 2**16)))
            return flip_bits(rng.choice(self.centres), data.draw(st.integers(0, 17)), rng)
        return data.draw(st.integers(0, MASK))

    def _store(self, asset_id: int, code: int, searchable: bool, computed_at) -> None:
        values = {
            "phash": signed64(code),
            "dhash": signed64(code),
            "low_information": not searchable,
            "error": "",
            "computed_at": computed_at,
            **{f"phash_b{b}": v for b, v in enumerate(phash_bands(phash=code))},
        }
        Fingerprint.objects.filter(asset_id=asset_id).update(**values)
        self.rows[asset_id] = (code, searchable)

    @initialize(count=st.integers(0, 40), seed=st.integers(0, 2**32))
    def load(self, count, seed):
        rng = random.Random(seed)
        self.centres = [rng.getrandbits(64) for _ in range(3)]
        codes = [flip_bits(rng.choice(self.centres), rng.randint(0, 17), rng) for _ in range(count)]
        for asset_id, code in zip(
            synthetic_fingerprints(collection=self.collection, codes=codes), codes, strict=True
        ):
            self.rows[asset_id] = (code, True)

    @rule(data=st.data())
    def add(self, data):
        code = self._code(data)
        (asset_id,) = synthetic_fingerprints(collection=self.collection, codes=[code])
        self.rows[asset_id] = (code, True)

    @precondition(lambda self: self.rows)
    @rule(data=st.data(), late=st.integers(0, 55))
    def replace(self, data, late):
        """A re-fingerprint whose transaction commits `late` seconds after computed_at."""
        asset_id = data.draw(st.sampled_from(sorted(self.rows)))
        code = self._code(data)
        self._store(asset_id, code, True, self._now() - dt.timedelta(seconds=late))

    @precondition(lambda self: self.rows)
    @rule(data=st.data(), late=st.integers(0, 55), how=st.sampled_from(["flat", "error"]))
    def hide(self, data, late, how):
        asset_id = data.draw(st.sampled_from(sorted(self.rows)))
        code, _ = self.rows[asset_id]
        at = self._now() - dt.timedelta(seconds=late)
        if how == "flat":
            self._store(asset_id, code, False, at)
        else:
            Fingerprint.objects.filter(asset_id=asset_id).update(
                phash=None, dhash=None, error="cannot decode", computed_at=at
            )
            self.rows[asset_id] = (code, False)

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def delete(self, data):
        asset_id = data.draw(st.sampled_from(sorted(self.rows)))
        Fingerprint.objects.filter(asset_id=asset_id).delete()
        del self.rows[asset_id]

    @rule(seconds=st.sampled_from([1, 14, 15, 16, 59, 61, 300]))
    def advance(self, seconds):
        self.clock.advance(dt.timedelta(seconds=seconds))

    @rule(data=st.data(), k=st.sampled_from([0, 3, 10, 12, 16]))
    def lookup(self, data, k):
        query = self._code(data)
        expected = {
            asset_id: (code ^ query).bit_count()
            for asset_id, (code, searchable) in self.rows.items()
            if searchable and (code ^ query).bit_count() <= k
        }
        assert near_lookup(phash=query, k=k) == expected
        assert database_near_lookup(phash=query, k=k) == expected

    @invariant()
    def changes_stay_below_the_rebuild_threshold(self):
        stats = memory_lookup_stats()
        if stats:
            limit = max(lookup_memory.REBUILD_MIN, lookup_memory.REBUILD_SHARE * stats["size"])
            assert stats["changes"] <= limit
            assert stats["covered_at"] <= self._now()
            # Catch-ups overlap by the slack; each changed asset is held once, its latest.
            delta = lookup_memory._state.delta_ids
            assert np.unique(delta).size == delta.size


@pytest.mark.django_db
def test_memory_lookup_machine(collection, clock, memory_on, monkeypatch):
    # Tiny rebuild thresholds, so sequences rebuild as well as catch up.
    monkeypatch.setattr(lookup_memory, "REBUILD_MIN", 6)
    clock.set(START)
    MemoryLookupMachine.env = (clock, collection)
    run_state_machine_as_test(
        MemoryLookupMachine,
        settings=hsettings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
