"""The database index finds exactly what brute force finds, on SQLite and PostgreSQL."""

import random

import pytest

from dedup.index import hamming64, near_lookup
from tests.dedup.helpers import flip_bits, synthetic_fingerprints

pytestmark = pytest.mark.django_db


def brute_force(codes_by_id: dict[int, int], query: int, k: int) -> dict[int, int]:
    found = {}
    for asset_id, code in codes_by_id.items():
        distance = (code ^ query).bit_count()
        if distance <= k:
            found[asset_id] = distance
    return found


@pytest.fixture
def planted(collection):
    """Random codes plus, for a few seeds, copies at every distance from 0 to 14."""
    rng = random.Random(20261122)
    seeds = [rng.getrandbits(64) for _ in range(6)]
    # Extremes: all ones and the sign bit, to prove signed storage round-trips.
    seeds += [(1 << 64) - 1, 1 << 63]
    codes = [rng.getrandbits(64) for _ in range(1200)]
    for seed in seeds:
        codes += [flip_bits(seed, d, rng) for d in range(15)]
    ids = synthetic_fingerprints(collection=collection, codes=codes)
    return dict(zip(ids, codes, strict=True)), seeds


@pytest.mark.parametrize("k", [0, 1, 3, 4, 7, 8, 10, 12])
def test_lookup_equals_brute_force_on_planted_data(planted, k):
    codes_by_id, seeds = planted
    for seed in seeds:
        assert near_lookup(phash=seed, k=k) == brute_force(codes_by_id, seed, k)


def test_lookup_equals_brute_force_for_random_queries(planted):
    codes_by_id, _ = planted
    rng = random.Random(7)
    queries = rng.sample(list(codes_by_id.values()), 25)
    for query in queries:
        assert near_lookup(phash=query, k=10) == brute_force(codes_by_id, query, 10)


def test_low_information_fingerprints_stay_out_of_the_index(collection):
    flat = 0x0F0F0F0F0F0F0F0F
    ids = synthetic_fingerprints(collection=collection, codes=[flat, flat ^ 1], low_information={0})

    assert near_lookup(phash=flat, k=4) == {ids[1]: 1}


def test_k_out_of_range_is_refused(db):
    with pytest.raises(ValueError, match="k must be between 0 and 64"):
        near_lookup(phash=1, k=65)


def test_sqlite_hamming_function_matches_python():
    assert hamming64(-1, 0) == 64
    assert hamming64(-(1 << 63), 0) == 1
    assert hamming64(5, 6) == 2
    assert hamming64(None, 1) is None
