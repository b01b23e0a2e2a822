"""Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012) for 64-bit perceptual hashes.

A code is cut into bands; if two codes differ in at most k bits, the pigeonhole principle
guarantees that some band differs in few bits, so only codes sharing a nearby band value need
a full comparison. Pure Python + numpy: no Django imports.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

import numpy as np

BITS = 64
BANDS = 4
BAND_WIDTH = BITS // BANDS

# Widest band that all_pairs indexes with a dense bucket table (2**24 int32 = 64 MiB).
MAX_TABLE_WIDTH = 24
# Relative costs (nanoseconds, measured with bench/bench_allpairs.py) used to pick a band
# count: one bucket probe, one candidate comparison and the fixed numpy overhead per flip mask.
PROBE_NS = 4.0
CANDIDATE_NS = 6.0
MASK_OVERHEAD_NS = 60_000.0
DEFAULT_CHUNK_PAIRS = 1 << 20
# Probe tables hold 31 code bits from outside the band; bit 31 marks a multi-code bucket.
REST_MASK = (1 << 31) - 1
CROWDED_FLAG = 1 << 31


class PairChunk(NamedTuple):
    """Matching pairs as parallel arrays: id_a < id_b and their Hamming distance."""

    id_a: np.ndarray
    id_b: np.ndarray
    distance: np.ndarray


class Band(NamedTuple):
    """One band: bit offset from the least significant end, width and probe radius."""

    shift: int
    width: int
    radius: int


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits between two non-negative ints."""
    return (a ^ b).bit_count()


def popcount64(values: np.ndarray) -> np.ndarray:
    """Return the per-element number of set bits of a uint64 array."""
    return np.bitwise_count(np.asarray(values, dtype=np.uint64))


def band_layout(*, bands: int = BANDS, bits: int = BITS) -> list[tuple[int, int]]:
    """Return (shift, width) per band, band 0 holding the most significant bits."""
    if not 1 <= bands <= bits:
        raise ValueError(f"bands must be between 1 and {bits}, got {bands}")
    base, extra = divmod(bits, bands)
    widths = [base + 1] * extra + [base] * (bands - extra)
    shifts = [bits - sum(widths[: i + 1]) for i in range(bands)]
    return list(zip(shifts, widths, strict=True))


def bands_of(*, code: int, bands: int = BANDS) -> list[int]:
    """Split an unsigned 64-bit int into band values, band 0 = most significant bits."""
    if not 0 <= code < 1 << BITS:
        raise ValueError(f"{code} is not an unsigned {BITS}-bit integer")
    return [(code >> shift) & ((1 << width) - 1) for shift, width in band_layout(bands=bands)]


def bands_of_array(*, codes: np.ndarray, bands: int = BANDS) -> np.ndarray:
    """Vectorised bands_of: an (n, bands) uint64 array of band values."""
    codes = as_uint64(codes=codes)
    out = np.empty((codes.size, bands), dtype=np.uint64)
    for i, (shift, width) in enumerate(band_layout(bands=bands)):
        out[:, i] = (codes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
    return out


def band_probes(*, value: int, radius: int, width: int = BAND_WIDTH) -> list[int]:
    """Return every band value within Hamming distance radius of value, nearest first."""
    if not 0 <= value < 1 << width:
        raise ValueError(f"{value} does not fit in {width} bits")
    return [value ^ mask for mask in flip_masks(width=width, radius=radius)]


@lru_cache(maxsize=64)
def flip_masks(*, width: int, radius: int) -> tuple[int, ...]:
    """Return all width-bit masks with at most radius bits set, by increasing popcount."""
    radius = min(radius, width)
    return tuple(
        sum(1 << bit for bit in combo)
        for r in range(radius + 1)
        for combo in itertools.combinations(range(width), r)
    )


def probe_radii(*, k: int, bands: int) -> list[int]:
    """Per-band radii whose (radius + 1) sum to k + 1, so any pair within k hits some band."""
    # If every band differed by radius_i + 1 or more, the total would exceed k, so probing
    # radius_i per band is exact; -1 marks a band that never needs probing.
    base, extra = divmod(k + 1, bands)
    # Extra units go to the last bands, which are the narrow ones when widths are uneven:
    # a larger radius costs fewer probes on a narrow band.
    return [base - 1 + (i >= bands - extra) for i in range(bands)]


def choose_bands(*, n: int, k: int) -> int:
    """Pick the band count with the lowest modelled cost for an all-pairs join."""
    best, best_cost = BANDS, math.inf
    for bands in range(math.ceil(BITS / MAX_TABLE_WIDTH), BITS + 1):
        cost = _model_cost(n=n, k=k, bands=bands)
        if cost < best_cost:
            best, best_cost = bands, cost
    return best


def _model_cost(*, n: int, k: int, bands: int) -> float:
    """Estimate all_pairs run time in nanoseconds for a band count."""
    cost = 0.0
    layout = band_layout(bands=bands)
    for (_, width), radius in zip(layout, probe_radii(k=k, bands=bands), strict=True):
        if radius < 0:
            continue
        masks = sum(math.comb(width, r) for r in range(min(radius, width) + 1))
        per_code = masks / 2  # each unordered bucket pair is probed from one side only
        cost += n * per_code * (PROBE_NS + CANDIDATE_NS * n / 2**width)
        cost += masks * MASK_OVERHEAD_NS
    return cost


def as_uint64(*, codes: np.ndarray | Iterable[int]) -> np.ndarray:
    """Return codes as a uint64 array, reinterpreting int64 (signed bigint) bit patterns."""
    arr = np.asarray(codes)
    if arr.dtype == np.int64:
        return arr.view(np.uint64)
    if arr.dtype == np.uint64:
        return arr
    if arr.dtype == object or arr.size == 0:
        return np.array([int(c) & (2**64 - 1) for c in arr.ravel()], dtype=np.uint64)
    return arr.astype(np.uint64)


def brute_force_pairs(*, codes: np.ndarray, ids: np.ndarray, k: int) -> PairChunk:
    """Reference O(n^2) join returning every pair within distance k, sorted by ids."""
    codes, ids = _validate(codes=codes, ids=ids, k=k)
    parts_a, parts_b, parts_d = [], [], []
    for i in range(codes.size - 1):
        dist = np.bitwise_count(codes[i + 1 :] ^ codes[i])
        hit = np.flatnonzero(dist <= k)
        parts_a.append(np.full(hit.size, ids[i]))
        parts_b.append(ids[i + 1 + hit])
        parts_d.append(dist[hit])
    return sort_pairs(pairs=_ordered(*_concat(parts_a, parts_b, parts_d)))


def all_pairs(
    *,
    codes: np.ndarray,
    ids: np.ndarray,
    k: int,
    bands: int | None = None,
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS,
) -> Iterator[PairChunk]:
    """Yield chunks of every pair (id_a < id_b) whose codes differ in at most k bits."""
    codes, ids = _validate(codes=codes, ids=ids, k=k)
    if bands is None:
        bands = choose_bands(n=codes.size, k=k)
    plan = [
        Band(shift, width, radius)
        for (shift, width), radius in zip(
            band_layout(bands=bands), probe_radii(k=k, bands=bands), strict=True
        )
    ]
    buffer: list[PairChunk] = []
    buffered = 0
    for i, band in enumerate(plan):
        if band.radius < 0:
            continue
        for pos_a, pos_b, dist in _band_join(codes=codes, band=band, k=k, earlier=plan[:i]):
            buffer.append(_ordered(ids[pos_a], ids[pos_b], dist))
            buffered += dist.size
            if buffered >= chunk_pairs:
                yield PairChunk(*_concat(*zip(*buffer, strict=True)))
                buffer, buffered = [], 0
    if buffered:
        yield PairChunk(*_concat(*zip(*buffer, strict=True)))


def concat_pairs(*, chunks: Iterable[PairChunk]) -> PairChunk:
    """Concatenate chunks from all_pairs into one PairChunk."""
    chunks = list(chunks)
    if not chunks:
        empty = np.empty(0, dtype=np.int64)
        return PairChunk(empty, empty.copy(), np.empty(0, dtype=np.uint8))
    return PairChunk(*_concat(*zip(*chunks, strict=True)))


def sort_pairs(*, pairs: PairChunk) -> PairChunk:
    """Sort pairs by (id_a, id_b) so results can be compared deterministically."""
    order = np.lexsort((pairs.id_b, pairs.id_a))
    return PairChunk(pairs.id_a[order], pairs.id_b[order], pairs.distance[order])


def _validate(*, codes: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and ranges, returning uint64 codes and int64 ids."""
    codes = as_uint64(codes=codes).ravel()
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if codes.shape != ids.shape:
        raise ValueError(f"codes and ids differ in length: {codes.size} != {ids.size}")
    if not 0 <= k <= BITS:
        raise ValueError(f"k must be between 0 and {BITS}, got {k}")
    if np.unique(ids).size != ids.size:
        raise ValueError("ids must be unique")
    return codes, ids


def _ordered(a: np.ndarray, b: np.ndarray, dist: np.ndarray) -> PairChunk:
    """Put the smaller id first in every pair."""
    return PairChunk(np.minimum(a, b), np.maximum(a, b), dist.astype(np.uint8, copy=False))


def _concat(*parts: Iterable[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Concatenate each group of arrays, tolerating empty groups."""
    return tuple(
        np.concatenate(list(group)) if group else np.empty(0, dtype=np.int64)
        for group in map(list, parts)
    )


class _SortedBand:
    """Codes sorted by one band's value, with dense per-value tables for probing."""

    def __init__(self, *, codes: np.ndarray, band: Band) -> None:
        keys = (codes >> np.uint64(band.shift)) & np.uint64((1 << band.width) - 1)
        keys = keys.astype(np.intp)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.codes = codes[self.order]
        self.rest = _rest_bits(codes=self.codes, band=band)
        counts = np.bincount(self.keys, minlength=1 << band.width)
        # int32 halves the table's cache footprint, which dominates probe cost.
        index_type = np.int32 if codes.size < 2**31 else np.int64
        bounds = np.zeros((1 << band.width) + 1, dtype=index_type)
        np.cumsum(counts, out=bounds[1:])
        self.starts = bounds[:-1]
        self.ends = bounds[1:]
        # Per bucket value: the rest bits of its only code, or the crowded flag when it holds
        # several. Empty buckets hold 0 and are weeded out on the rare prefilter hits.
        single = np.flatnonzero(counts == 1)
        self.probe_table = np.zeros(1 << band.width, dtype=np.uint32)
        self.probe_table[single] = self.rest[self.starts[single]]
        self.probe_table[counts > 1] = CROWDED_FLAG


def _rest_bits(*, codes: np.ndarray, band: Band) -> np.ndarray:
    """Return 31 code bits from outside the band, packed into uint32 for a cheap prefilter."""
    low = codes & np.uint64((1 << band.shift) - 1)
    top = band.shift + band.width
    high = (codes >> np.uint64(top)) << np.uint64(band.shift) if top < BITS else 0
    return ((high | low) & np.uint64(REST_MASK)).astype(np.uint32)


class _Side(NamedTuple):
    """Positions (in band-sorted order) that probe, with their keys and rest bits gathered."""

    positions: np.ndarray
    keys: np.ndarray
    rest: np.ndarray


class _Scratch:
    """Reusable per-side buffers; fresh multi-megabyte temporaries would page-fault per mask."""

    def __init__(self, *, size: int) -> None:
        self.partner = np.empty(size, dtype=np.intp)
        self.diff = np.empty(size, dtype=np.uint32)
        self.dist = np.empty(size, dtype=np.uint8)
        self.flag = np.empty(size, dtype=bool)


def _band_join(
    *, codes: np.ndarray, band: Band, k: int, earlier: list[Band]
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (pos_a, pos_b, dist) for pairs first caught by this band."""
    table = _SortedBand(codes=codes, band=band)
    verify = _Verifier(table=table, k=k, earlier=earlier)
    yield from _same_bucket(table=table, verify=verify)
    by_top_bit: dict[int, list[int]] = {}
    for mask in flip_masks(width=band.width, radius=band.radius)[1:]:
        by_top_bit.setdefault(mask.bit_length() - 1, []).append(mask)
    for top, group in by_top_bit.items():
        # Probe only from the side whose key has the mask's top bit clear, so each unordered
        # pair of buckets is visited exactly once.
        positions = np.flatnonzero(((table.keys >> top) & 1) == 0)
        side = _Side(positions, table.keys[positions], table.rest[positions])
        scratch = _Scratch(size=positions.size)
        for mask in group:
            yield from _cross_bucket(
                table=table, verify=verify, side=side, scratch=scratch, mask=mask
            )


def _same_bucket(
    *, table: _SortedBand, verify: _Verifier
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Compare every position with later positions that share its band value."""
    keys = table.keys
    step = 1
    active = np.flatnonzero(keys[:-1] == keys[1:])
    while active.size:
        found = verify(pos_a=active, pos_b=active + step)
        if found[0].size:
            yield found
        step += 1
        active = active[: np.searchsorted(active, keys.size - step)]
        # Integer gathers after flatnonzero beat boolean-mask indexing several times over.
        active = active[np.flatnonzero(keys[active + step] == keys[active])]


def _cross_bucket(
    *, table: _SortedBand, verify: _Verifier, side: _Side, scratch: _Scratch, mask: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pair each probing position with every code in the bucket its key ^ mask names."""
    partner = np.bitwise_xor(side.keys, mask, out=scratch.partner)
    # mode="clip" lets take() write straight into out ("raise" buffers a copy); partner keys
    # stay within the band's width, so clipping never alters an index.
    diff = np.take(table.probe_table, partner, out=scratch.diff, mode="clip")
    np.bitwise_xor(diff, side.rest, out=diff)
    np.bitwise_count(diff, out=scratch.dist)
    # Bits outside the band can differ by at most k - |mask|; the crowded flag adds one, and
    # crowded buckets are fully handled below, so a flagged hit here is simply dropped.
    hit = np.flatnonzero(np.less_equal(scratch.dist, verify.k - mask.bit_count(), out=scratch.flag))
    if hit.size:
        hit = hit[diff[hit] < CROWDED_FLAG]
        lo = table.starts[partner[hit]]
        occupied = np.flatnonzero(table.ends[partner[hit]] > lo)
        found = verify(pos_a=side.positions[hit[occupied]], pos_b=lo[occupied])
        if found[0].size:
            yield found
    crowded = np.flatnonzero(np.greater_equal(diff, CROWDED_FLAG, out=scratch.flag))
    if crowded.size:
        yield from _crowded_buckets(
            table=table, verify=verify, pos_a=side.positions[crowded], partner=partner[crowded]
        )


def _crowded_buckets(
    *, table: _SortedBand, verify: _Verifier, pos_a: np.ndarray, partner: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Compare probes with every code of partner buckets that hold more than one code."""
    lo = table.starts[partner]
    size = (table.ends[partner] - lo).astype(np.intp)
    # Expand (probe, bucket member) pairs in one vectorised step, bounded per slice so a
    # bucket of many duplicates cannot blow up memory.
    ends = np.cumsum(size)
    first = 0
    while first < size.size:
        last = int(np.searchsorted(ends, ends[first] - size[first] + DEFAULT_CHUNK_PAIRS))
        last = max(last, first + 1)
        owner = np.repeat(np.arange(first, last), size[first:last])
        offset = np.arange(owner.size) - np.repeat(
            ends[first:last] - size[first:last] - (ends[first] - size[first]), size[first:last]
        )
        found = verify(pos_a=pos_a[owner], pos_b=lo[owner] + offset)
        if found[0].size:
            yield found
        first = last


class _Verifier:
    """Full-distance check plus the rule that keeps each pair in the first band that sees it."""

    def __init__(self, *, table: _SortedBand, k: int, earlier: list[Band]) -> None:
        self.table = table
        self.k = k
        self.earlier = [
            (np.uint64(b.shift), np.uint64((1 << b.width) - 1), b.radius)
            for b in earlier
            if b.radius >= 0
        ]

    def __call__(
        self, *, pos_a: np.ndarray, pos_b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = self.table.codes
        diff = codes[pos_a] ^ codes[pos_b]
        dist = np.bitwise_count(diff)
        hit = np.flatnonzero(dist <= self.k)
        if hit.size and self.earlier:
            diff = diff[hit]
            keep = np.ones(hit.size, dtype=bool)
            for shift, width_mask, radius in self.earlier:
                # An earlier band within its radius already reported this pair.
                keep &= np.bitwise_count((diff >> shift) & width_mask) > radius
            hit = hit[keep]
        order = self.table.order
        return order[pos_a[hit]], order[pos_b[hit]], dist[hit]
