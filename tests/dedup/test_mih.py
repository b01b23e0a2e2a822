"""Tests for dedup.mih: band helpers and the exact all-pairs Hamming join."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dedup import mih

K_VALUES = (0, 1, 4, 7, 10, 12)


def _flip_bits(*, rng: np.random.Generator, code: int, count: int) -> int:
    for bit in rng.choice(64, size=count, replace=False):
        code ^= 1 << int(bit)
    return code


def _planted_codes(*, seed: int, n_random: int, n_planted: int) -> tuple[np.ndarray, np.ndarray]:
    """Random codes plus copies of some of them with 0..12 flipped bits, under shuffled ids."""
    rng = np.random.default_rng(seed)
    codes = [int(c) for c in rng.integers(0, 2**64, size=n_random, dtype=np.uint64)]
    for base in rng.choice(n_random, size=n_planted, replace=False):
        codes.append(_flip_bits(rng=rng, code=codes[base], count=int(rng.integers(0, 13))))
    ids = rng.permutation(len(codes)).astype(np.int64) * 7 + 3
    return np.array(codes, dtype=np.uint64), ids


def _clustered_codes(*, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes sharing long prefixes and exact duplicates, so band buckets hold many codes."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, size=1200, dtype=np.uint64)
    prefix = np.uint64(0xABCDE) << np.uint64(44)
    codes[:400] = (codes[:400] & np.uint64((1 << 44) - 1)) | prefix
    codes[400:460] = codes[400]
    codes[460:500] = codes[401] ^ np.uint64(0b1011)
    return codes, np.arange(codes.size, dtype=np.int64)


def _pair_set(pairs: mih.PairChunk) -> set[tuple[int, int, int]]:
    return set(zip(pairs.id_a.tolist(), pairs.id_b.tolist(), pairs.distance.tolist(), strict=True))


def _assert_matches_brute_force(*, codes, ids, k, bands, chunk_pairs=mih.DEFAULT_CHUNK_PAIRS):
    chunks = list(mih.all_pairs(codes=codes, ids=ids, k=k, bands=bands, chunk_pairs=chunk_pairs))
    got = mih.concat_pairs(chunks=chunks)
    expected = mih.brute_force_pairs(codes=codes, ids=ids, k=k)
    assert np.all(got.id_a < got.id_b)
    assert len(_pair_set(got)) == got.id_a.size, "a pair was reported twice"
    assert _pair_set(got) == _pair_set(expected)


@pytest.mark.parametrize("k", K_VALUES)
@pytest.mark.parametrize("bands", [None, 4, 5, 8])
def test_all_pairs_equals_brute_force(k: int, bands: int | None):
    codes, ids = _planted_codes(seed=k, n_random=1500, n_planted=300)
    _assert_matches_brute_force(codes=codes, ids=ids, k=k, bands=bands)


@pytest.mark.parametrize("k", [0, 4, 10])
def test_all_pairs_three_wide_bands(k: int):
    # Three bands is the layout chosen for a million codes, so it gets its own check.
    codes, ids = _planted_codes(seed=100 + k, n_random=1500, n_planted=300)
    _assert_matches_brute_force(codes=codes, ids=ids, k=k, bands=3)


@pytest.mark.parametrize("k", [0, 3, 10])
@pytest.mark.parametrize("bands", [3, 4, 11])
def test_all_pairs_with_crowded_buckets(k: int, bands: int):
    codes, ids = _clustered_codes(seed=k)
    _assert_matches_brute_force(codes=codes, ids=ids, k=k, bands=bands, chunk_pairs=500)


def test_chunks_are_bounded_and_consistent():
    codes, ids = _clustered_codes(seed=7)
    chunks = list(mih.all_pairs(codes=codes, ids=ids, k=6, chunk_pairs=100))
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.id_a.shape == chunk.id_b.shape == chunk.distance.shape
        assert chunk.distance.max() <= 6


def test_signed_codes_are_reinterpreted():
    codes, ids = _planted_codes(seed=3, n_random=400, n_planted=100)
    unsigned = mih.concat_pairs(chunks=mih.all_pairs(codes=codes, ids=ids, k=8))
    signed = mih.concat_pairs(chunks=mih.all_pairs(codes=codes.view(np.int64), ids=ids, k=8))
    assert _pair_set(unsigned) == _pair_set(signed)


def test_python_int_codes_are_accepted():
    codes = [2**64 - 1, 2**64 - 2, 0, 3]
    pairs = mih.concat_pairs(chunks=mih.all_pairs(codes=codes, ids=[10, 11, 12, 13], k=2))
    assert _pair_set(pairs) == {(10, 11, 1), (12, 13, 2)}


def test_float_codes_are_rejected():
    with pytest.raises(TypeError):
        list(mih.all_pairs(codes=np.array([1.0, 2.0]), ids=np.array([1, 2]), k=1))


def test_tiny_inputs_yield_nothing():
    empty = np.empty(0, dtype=np.uint64)
    assert list(mih.all_pairs(codes=empty, ids=np.empty(0, dtype=np.int64), k=3)) == []
    one = np.array([5], dtype=np.uint64)
    assert list(mih.all_pairs(codes=one, ids=np.array([1]), k=64)) == []


def test_invalid_arguments():
    codes = np.array([1, 2], dtype=np.uint64)
    with pytest.raises(ValueError, match="differ in length"):
        list(mih.all_pairs(codes=codes, ids=np.array([1]), k=1))
    with pytest.raises(ValueError, match="unique"):
        list(mih.all_pairs(codes=codes, ids=np.array([4, 4]), k=1))
    with pytest.raises(ValueError, match="k must be"):
        list(mih.all_pairs(codes=codes, ids=np.array([1, 2]), k=65))
    with pytest.raises(ValueError, match="bands"):
        list(mih.all_pairs(codes=codes, ids=np.array([1, 2]), k=3, bands=2))


def test_brute_force_reference_on_known_pairs():
    codes = np.array([0b0000, 0b0001, 0b0111, 2**63], dtype=np.uint64)
    pairs = mih.brute_force_pairs(codes=codes, ids=np.array([9, 5, 7, 1]), k=2)
    assert _pair_set(pairs) == {(5, 9, 1), (5, 7, 2), (1, 9, 1), (1, 5, 2)}


@pytest.mark.parametrize("bands", [1, 2, 3, 4, 5, 8, 11, 16, 64])
def test_bands_of_round_trips(bands: int):
    rng = np.random.default_rng(bands)
    layout = mih.band_layout(bands=bands)
    assert sum(width for _, width in layout) == 64
    for code in [0, 2**64 - 1, *map(int, rng.integers(0, 2**64, size=50, dtype=np.uint64))]:
        values = mih.bands_of(code=code, bands=bands)
        rebuilt = sum(value << shift for value, (shift, _) in zip(values, layout, strict=True))
        assert rebuilt == code


def test_band_zero_is_most_significant():
    assert mih.bands_of(code=0x0123_4567_89AB_CDEF) == [0x0123, 0x4567, 0x89AB, 0xCDEF]
    assert mih.bands_of(code=2**64 - 1) == [0xFFFF] * 4


def test_bands_of_array_matches_scalar():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 2**64, size=200, dtype=np.uint64)
    for bands in (3, 4, 7):
        table = mih.bands_of_array(codes=codes, bands=bands)
        assert table.shape == (200, bands)
        for row, code in zip(table, codes, strict=True):
            assert row.tolist() == mih.bands_of(code=int(code), bands=bands)


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_band_probes_cover_the_ball(radius: int):
    value = 0b1010_0000_1111_0011
    probes = mih.band_probes(value=value, radius=radius)
    assert len(probes) == sum(math.comb(16, i) for i in range(radius + 1))
    assert len(set(probes)) == len(probes)
    assert probes[0] == value
    assert all(mih.hamming(p, value) <= radius and 0 <= p < 2**16 for p in probes)


def test_band_probes_other_width():
    probes = mih.band_probes(value=5, radius=2, width=21)
    assert len(probes) == 1 + 21 + math.comb(21, 2)


def test_hamming_and_popcount():
    assert mih.hamming(0b1011, 0b0001) == 2
    assert mih.hamming(2**64 - 1, 0) == 64
    arr = np.array([0, 1, 2**64 - 1, 0xF0F0], dtype=np.uint64)
    assert mih.popcount64(arr).tolist() == [0, 1, 64, 8]


@pytest.mark.parametrize("bands", [3, 4, 5, 11, 16])
@pytest.mark.parametrize("k", range(0, 14))
def test_probe_radii_satisfy_pigeonhole(k: int, bands: int):
    radii = mih.probe_radii(k=k, bands=bands)
    assert len(radii) == bands and min(radii) >= -1
    # If every band differed by more than its radius, the total would exceed k.
    assert sum(r + 1 for r in radii) == k + 1


def test_choose_bands_prefers_wide_bands_for_large_inputs():
    assert mih.choose_bands(n=1_000_000, k=10) == 3
    assert 3 <= mih.choose_bands(n=2_000, k=10) <= 64


def test_expand_runs_chunked_matches_direct():
    lo = np.array([0, 10, 20, 40])
    size = np.array([3, 0, 5, 2])
    direct = list(mih._expand_runs(lo=lo, size=size))
    chunked = list(mih._expand_runs(lo=lo, size=size, limit=3))
    assert len(direct) == 1 and len(chunked) == 4
    owners = np.concatenate([c[0] for c in chunked])
    members = np.concatenate([c[1] for c in chunked])
    assert owners.tolist() == direct[0][0].tolist() == [0, 0, 0, 2, 2, 2, 2, 2, 3, 3]
    assert members.tolist() == direct[0][1].tolist() == [0, 1, 2, 20, 21, 22, 23, 24, 40, 41]
