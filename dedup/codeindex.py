"""An in-memory multi-index over 64-bit codes, for lookups one code at a time.

The database index (dedup.index) keeps four 16-bit bands: each probe reads about
N / 65,536 rows, so a lookup at 10 M fingerprints reads ~65,000 of them. Held in memory,
the bands can be as wide as log2 N (three bands of 21-22 bits at 10 M): a few thousand
probes of a few codes each, all of it vectorised. For each band the codes are kept sorted
by band value next to a dense table of bucket bounds, so a probe is two table reads and
the candidates of a bucket are contiguous. The band count is chosen per size and k by a
cost model; small arrays and large k are scanned whole. Pure numpy: no Django imports.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from dedup.mih import BITS, band_layout, flip_masks, probe_radii

# Widest band kept with a dense bound table (2**24 + 1 int32 = 64 MiB).
MAX_WIDTH = 24
MIN_BANDS = math.ceil(BITS / MAX_WIDTH)
MAX_BANDS = 8
# Relative costs per probe (two table reads) and per candidate (gather, xor, popcount),
# and of one whole-array scan per code, from bench/bench_codeindex.py on this machine.
PROBE_COST = 1.0
CANDIDATE_COST = 1.0
SCAN_COST = 0.6
# Per-band fixed cost of the numpy calls, in candidate units.
BAND_OVERHEAD = 400.0


class _Band(NamedTuple):
    shift: int
    width: int
    bounds: np.ndarray  # bucket b holds sorted positions bounds[b]:bounds[b + 1]
    codes: np.ndarray  # the codes sorted by this band's value
    order: np.ndarray  # position in the original arrays of each sorted code


@lru_cache(maxsize=64)
def _masks(width: int, radius: int) -> np.ndarray:
    """Every flip mask of a band within radius, as an array of band-value XORs."""
    return np.array(flip_masks(width=width, radius=radius), dtype=np.intp)


def _probe_count(width: int, radius: int) -> int:
    return sum(math.comb(width, r) for r in range(min(radius, width) + 1))


def plan_cost(*, n: int, k: int, bands: int) -> float:
    """Modelled cost of one lookup with this band count (0 bands = scan every code)."""
    if bands == 0:
        return SCAN_COST * n
    cost = 0.0
    for (_, width), radius in zip(
        band_layout(bands=bands), probe_radii(k=k, bands=bands), strict=True
    ):
        if radius < 0:
            continue
        if width > MAX_WIDTH:
            return math.inf
        probes = _probe_count(width, radius)
        cost += BAND_OVERHEAD + probes * (PROBE_COST + CANDIDATE_COST * n / 2.0**width)
    return cost


def plan_bands(*, n: int, k: int) -> int:
    """The band count with the lowest modelled lookup cost; 0 means a whole scan."""
    return min(
        [0, *range(MIN_BANDS, MAX_BANDS + 1)], key=lambda bands: plan_cost(n=n, k=k, bands=bands)
    )


class CodeIndex:
    """Codes with their ids, searchable for every code within a Hamming distance.

    The band layout is chosen for the k given (the distance looked up most); any other
    distance is answered exactly as well, with the radii for that distance.
    """

    def __init__(
        self, *, ids: np.ndarray, codes: np.ndarray, k: int, bands: int | None = None
    ) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        codes = np.ascontiguousarray(codes).view(np.uint64)
        if ids.shape != codes.shape or codes.ndim != 1:
            raise ValueError("ids and codes must be one-dimensional and of equal length")
        if not 0 <= k <= BITS:
            raise ValueError(f"k must be between 0 and {BITS}")
        self.ids = ids
        self.codes = codes
        self.bands: list[_Band] = []
        count = plan_bands(n=codes.size, k=k) if bands is None else bands
        if count != 0 and not MIN_BANDS <= count <= MAX_BANDS:
            raise ValueError(f"bands must be 0 (scan) or between {MIN_BANDS} and {MAX_BANDS}")
        index_type = np.int32 if codes.size < 2**31 else np.int64
        for shift, width in band_layout(bands=count) if count else []:
            keys = ((codes >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.intp)
            order = np.argsort(keys, kind="stable").astype(index_type)
            bounds = np.zeros((1 << width) + 1, dtype=index_type)
            np.cumsum(np.bincount(keys, minlength=1 << width), out=bounds[1:])
            self.bands.append(_Band(shift, width, bounds, codes[order], order))

    @property
    def size(self) -> int:
        return int(self.codes.size)

    @property
    def nbytes(self) -> int:
        arrays = [self.ids, self.codes]
        for band in self.bands:
            arrays += [band.bounds, band.codes, band.order]
        return sum(int(a.nbytes) for a in arrays)

    def near(self, *, code: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances) of every code within distance k of code."""
        if not 0 <= k <= BITS:
            raise ValueError(f"k must be between 0 and {BITS}")
        query = np.uint64(code & ((1 << BITS) - 1))
        radii = probe_radii(k=k, bands=len(self.bands)) if self.bands else []
        # Past the radii the bands were laid out for, a scan can be the cheaper one.
        if not self.bands or plan_cost(n=self.size, k=k, bands=len(self.bands)) > plan_cost(
            n=self.size, k=k, bands=0
        ):
            distances = np.bitwise_count(self.codes ^ query)
            hits = np.flatnonzero(distances <= k)
            return self.ids[hits], distances[hits].astype(np.int64)
        found: list[np.ndarray] = []
        for band, radius in zip(self.bands, radii, strict=True):
            if radius < 0:
                continue  # small k: fewer bands suffice
            value = int(code >> band.shift) & ((1 << band.width) - 1)
            probes = _masks(band.width, radius) ^ value
            starts = band.bounds[probes]
            lengths = band.bounds[probes + 1] - starts
            total = int(lengths.sum())
            if total == 0:
                continue
            # The positions of every probed bucket, run after run.
            ends = np.cumsum(lengths)
            positions = np.arange(total) + np.repeat(starts - (ends - lengths), lengths)
            distances = np.bitwise_count(band.codes[positions] ^ query)
            found.append(band.order[positions[distances <= k]])
        if not found:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        # A code close in several bands is found by each of them.
        hits = np.unique(np.concatenate(found))
        return self.ids[hits], np.bitwise_count(self.codes[hits] ^ query).astype(np.int64)
