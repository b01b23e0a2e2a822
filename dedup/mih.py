"""Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012) for 64-bit perceptual hashes.

A code is cut into m bands. If two codes differ in at most k bits and band i is probed with
radius r_i where sum(r_i + 1) = k + 1, some band must differ by at most its radius (the
pigeonhole principle), so only codes with a nearby band value need a full comparison.

bands_of / band_probes serve database lookups (4 bands of 16 bits by default). all_pairs is
the in-memory join: per band it sorts codes by band value, keeps dense per-value tables, and
for every flip mask compares each code with the partner bucket through a 32-bit prefilter
over bits outside the band, in cache-sized blocks. A pair is kept only by the first band that
can see it, so no global set is needed. Pure Python + numpy: no Django imports.
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
# Costs in nanoseconds, fitted to bench/bench_allpairs.py runs, used to pick a band count:
# one prefiltered probe, one expanded candidate, one bucket-table slot, and the fixed numpy
# call overhead per probe block.
PROBE_NS = 8.0
CANDIDATE_NS = 30.0
TABLE_NS = 20.0
BLOCK_OVERHEAD_NS = 12_000.0
DEFAULT_CHUNK_PAIRS = 1 << 20
U64_MASK = (1 << BITS) - 1
# Probes per cache-resident block in the probe loop.
PROBE_BLOCK = 32768
# Rank-1 probe tables keep 31 rest bits; bit 31 flags buckets holding three or more codes.
REST_31 = (1 << 31) - 1
DEEP_FLAG = 1 << 31


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
        slots = 2.0**width
        load = n / slots  # mean codes per bucket (Poisson)
        extras = n + slots * math.expm1(-load)  # codes that are not first in their bucket
        # Mean codes expanded per deep-bucket probe: E[(c - 1) * (c >= 3)], c ~ Poisson(load).
        deep = load + math.expm1(-load) - load * load * math.exp(-load) / 2
        probes = n / 2 + extras
        masks = sum(math.comb(width, r) for r in range(min(radius, width) + 1)) - 1
        per_mask = (
            PROBE_NS * probes
            + CANDIDATE_NS * extras / 2 * deep
            + BLOCK_OVERHEAD_NS * (3 + probes / PROBE_BLOCK)
        )
        cost += TABLE_NS * slots + CANDIDATE_NS * n * load / 2 + masks * per_mask
    return cost


def as_uint64(*, codes: np.ndarray | Iterable[int]) -> np.ndarray:
    """Return codes as a uint64 array, reinterpreting signed (bigint) bit patterns."""
    if not isinstance(codes, np.ndarray):
        # Python ints may exceed int64 or be negative; masking maps both onto 64 bits.
        return np.fromiter((int(c) & U64_MASK for c in codes), dtype=np.uint64)
    if codes.dtype == np.uint64:
        return codes
    if codes.dtype == np.int64:
        return codes.view(np.uint64)
    if codes.dtype.kind in "iu":
        return codes.astype(np.uint64)
    raise TypeError(f"codes must be integers, got dtype {codes.dtype}")


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
    if max(width for _, width in band_layout(bands=bands)) > MAX_TABLE_WIDTH:
        raise ValueError(f"all_pairs needs bands of at most {MAX_TABLE_WIDTH} bits")
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
    sorted_ids = np.sort(ids)
    if sorted_ids.size and bool((sorted_ids[1:] == sorted_ids[:-1]).any()):
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
        # Positions that are not the first of their bucket.
        self.extras = np.flatnonzero(self.keys[1:] == self.keys[:-1]) + 1
        self.first_rest = self._layer(counts=counts, rank=0)
        self.second_rest = self._layer(counts=counts, rank=1) & np.uint32(REST_31)
        self.second_rest[counts > 2] |= np.uint32(DEEP_FLAG)

    def _layer(self, *, counts: np.ndarray, rank: int) -> np.ndarray:
        """Dense table of the rest bits of each bucket's code at rank (0 where absent)."""
        # Absent entries hold 0 and are weeded out on the rare prefilter hits.
        present = np.flatnonzero(counts > rank)
        layer = np.zeros(counts.size, dtype=np.uint32)
        layer[present] = self.rest[self.starts[present] + rank]
        return layer


def _rest_bits(*, codes: np.ndarray, band: Band) -> np.ndarray:
    """Return 32 code bits from outside the band as uint32, for a cheap prefilter."""
    low = codes & np.uint64((1 << band.shift) - 1)
    top = band.shift + band.width
    high = (codes >> np.uint64(top)) << np.uint64(band.shift) if top < BITS else 0
    return ((high | low) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


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
    for top, masks in by_top_bit.items():
        # Of two codes whose band values differ by a mask, exactly one (b) has the mask's
        # top bit set. Every code without it probes the first code of the partner bucket,
        # which covers all pairs where b is first in its bucket; b probes back otherwise.
        top_set = ((table.keys >> top) & 1).astype(bool)
        clear = np.flatnonzero(~top_set)
        extras = table.extras[top_set[table.extras]]
        probe = _Probe(table=table, verify=verify, masks=masks)
        yield from probe.run(positions=clear, layer=table.first_rest, rank=0)
        yield from probe.run(positions=extras, layer=table.first_rest, rank=0)
        yield from probe.run(positions=extras, layer=table.second_rest, rank=1)


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


class _Probe:
    """Blocked, prefiltered comparison of probing codes against one rank of partner buckets."""

    def __init__(self, *, table: _SortedBand, verify: _Verifier, masks: list[int]) -> None:
        self.table = table
        self.verify = verify
        self.masks = masks
        # Reused buffers sized to stay in L2 cache: the loop is memory-bound, and running
        # every mask over one cache-resident block beats streaming all probes per mask.
        self.partner = np.empty(PROBE_BLOCK, dtype=np.intp)
        self.diff = np.empty(PROBE_BLOCK, dtype=np.uint32)
        self.dist = np.empty(PROBE_BLOCK, dtype=np.uint8)
        self.flag = np.empty(PROBE_BLOCK, dtype=bool)

    def run(
        self, *, positions: np.ndarray, layer: np.ndarray, rank: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield verified pairs between positions and rank-th codes of partner buckets."""
        keys = self.table.keys[positions]
        rest = self.table.rest[positions]
        if rank:
            rest &= np.uint32(REST_31)
        for begin in range(0, positions.size, PROBE_BLOCK):
            block = slice(begin, begin + PROBE_BLOCK)
            for mask in self.masks:
                yield from self._block(
                    positions=positions[block],
                    keys=keys[block],
                    rest=rest[block],
                    layer=layer,
                    rank=rank,
                    mask=mask,
                )

    def _block(
        self,
        *,
        positions: np.ndarray,
        keys: np.ndarray,
        rest: np.ndarray,
        layer: np.ndarray,
        rank: int,
        mask: int,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Probe one block with one mask."""
        n = keys.size
        partner, diff = self.partner[:n], self.diff[:n]
        np.bitwise_xor(keys, mask, out=partner)
        # mode="clip" lets take() write straight into out ("raise" buffers a copy); partner
        # values stay within the band width, so clipping never alters one.
        np.take(layer, partner, out=diff, mode="clip")
        np.bitwise_xor(diff, rest, out=diff)
        np.bitwise_count(diff, out=self.dist[:n])
        # Bits outside the band may differ by at most k - |mask| for a true match.
        limit = self.verify.k - mask.bit_count()
        hit = np.flatnonzero(np.less_equal(self.dist[:n], limit, out=self.flag[:n]))
        if hit.size:
            if rank:
                hit = hit[diff[hit] < DEEP_FLAG]  # deep buckets are expanded below
            lo = self.table.starts[partner[hit]] + rank
            keep = np.flatnonzero(lo < self.table.ends[partner[hit]])
            found = self.verify(pos_a=positions[hit[keep]], pos_b=lo[keep])
            if found[0].size:
                yield found
        if rank:
            deep = np.flatnonzero(np.greater_equal(diff, DEEP_FLAG, out=self.flag[:n]))
            if deep.size:
                yield from self._deep(positions=positions[deep], partner=partner[deep], rank=rank)

    def _deep(
        self, *, positions: np.ndarray, partner: np.ndarray, rank: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Compare probes with every code from rank onwards in buckets flagged as deep."""
        lo = self.table.starts[partner] + rank
        size = self.table.ends[partner] - lo
        for owner, member in _expand_runs(lo=lo, size=size):
            found = self.verify(pos_a=positions[owner], pos_b=member)
            if found[0].size:
                yield found


def _expand_runs(
    *, lo: np.ndarray, size: np.ndarray, limit: int = DEFAULT_CHUNK_PAIRS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (run index, position) for positions lo[i] .. lo[i] + size[i] - 1, in chunks."""
    size = size.astype(np.intp)
    ends = np.cumsum(size)
    total = int(ends[-1]) if size.size else 0
    if total <= limit:
        owner = np.repeat(np.arange(size.size), size)
        yield owner, lo[owner] + np.arange(total) - (ends - size)[owner]
        return
    # Only huge buckets (many identical band values) get here; binary search keeps each
    # chunk bounded at the cost of a log factor.
    for begin in range(0, total, limit):
        flat = np.arange(begin, min(begin + limit, total))
        owner = np.searchsorted(ends, flat, side="right")
        yield owner, lo[owner] + flat - (ends - size)[owner]


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
        """Return (original index a, original index b, distance) for pairs this band keeps."""
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


def cross_pairs(
    *,
    queries: np.ndarray,
    query_ids: np.ndarray,
    codes: np.ndarray,
    code_ids: np.ndarray,
    k: int,
    bands: int = BANDS,
) -> PairChunk:
    """Every (query, code) pair within distance k: (query id, code id, distance), deduplicated.

    The join between two different sets (main hashes against variant hashes): per band,
    codes are sorted by band value and each query probes the values within the band's
    radius; candidates are verified on the full 64 bits. Ids need not be unique.
    """
    queries = as_uint64(codes=queries).ravel()
    codes = as_uint64(codes=codes).ravel()
    query_ids = np.asarray(query_ids, dtype=np.int64).ravel()
    code_ids = np.asarray(code_ids, dtype=np.int64).ravel()
    if not 0 <= k <= BITS:
        raise ValueError(f"k must be between 0 and {BITS}, got {k}")
    found_q, found_c = [], []
    if queries.size and codes.size:
        radii = probe_radii(k=k, bands=bands)
        for (shift, width), radius in zip(band_layout(bands=bands), radii, strict=True):
            if radius < 0:
                continue
            mask_w = np.uint64((1 << width) - 1)
            code_keys = ((codes >> np.uint64(shift)) & mask_w).astype(np.int64)
            order = np.argsort(code_keys, kind="stable")
            sorted_keys = code_keys[order]
            query_keys = ((queries >> np.uint64(shift)) & mask_w).astype(np.int64)
            for flip in flip_masks(width=width, radius=radius):
                partner = query_keys ^ flip
                lo = np.searchsorted(sorted_keys, partner, side="left")
                hi = np.searchsorted(sorted_keys, partner, side="right")
                size = hi - lo
                if not size.any():
                    continue
                for owner, member in _expand_runs(lo=lo, size=size):
                    pos = order[member]
                    dist = np.bitwise_count(queries[owner] ^ codes[pos])
                    hit = np.flatnonzero(dist <= k)
                    found_q.append(owner[hit])
                    found_c.append(pos[hit])
    if not found_q:
        empty = np.empty(0, dtype=np.int64)
        return PairChunk(empty, empty, empty.astype(np.uint8))
    q, c = np.concatenate(found_q), np.concatenate(found_c)
    unique = np.unique(np.stack([q, c]), axis=1)
    q, c = unique[0], unique[1]
    dist = np.bitwise_count(queries[q] ^ codes[c]).astype(np.uint8)
    return PairChunk(query_ids[q], code_ids[c], dist)
