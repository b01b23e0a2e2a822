"""Declared extension points: how child apps (dedup, retention) plug into the archive.

The archive is the parent app and never imports its children. Instead it declares typed
hooks here; a child registers its implementation in its `AppConfig.ready()`:

    from archive import hooks
    hooks.asset_twins.register(pixel_twins)

Unlike signals, every hook states the call it makes and what it expects back, callers
iterate the implementations explicitly, and nothing is sent to receivers that merely
happen to be connected. Implementations run in registration order.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Generic, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Hook(Generic[F]):
    name: str
    contract: str
    _implementations: list[F] = field(default_factory=list)

    def register(self, fn: F) -> F:
        """Add an implementation (idempotent, so a reloaded ready() registers once)."""
        if fn not in self._implementations:
            self._implementations.append(fn)
        return fn

    def unregister(self, fn: F) -> None:
        if fn in self._implementations:
            self._implementations.remove(fn)

    def __iter__(self) -> Iterator[F]:
        return iter(list(self._implementations))


# fn(*, fp: BinaryIO, probe) -> dict: pure computation while a new file is read (possibly
# in a worker process, no database); the dict travels with the IngestAnalysis.extras.
asset_analysers: Hook[Callable[..., dict]] = Hook(
    "asset_analysers", "fn(*, fp: BinaryIO, probe: ImageProbe) -> dict (picklable, no DB)"
)

# fn(*, asset, analysis, background: bool, actor) -> dict: runs after the transaction that
# stored a new asset committed, in transactions of its own; returns findings for the caller
# (for example {"possible_duplicates": [asset ids]}).
asset_stored: Hook[Callable[..., dict]] = Hook(
    "asset_stored", "fn(*, asset, analysis, background, actor) -> dict of findings"
)

# fn(*, asset_ids: QuerySet) -> QuerySet | Iterable[int]: primary keys of assets that are
# twins (the same picture, frozen together by a hold) of the given ones, both ways round.
asset_twins: Hook[Callable[..., Iterable[int]]] = Hook(
    "asset_twins", "fn(*, asset_ids: QuerySet) -> query or iterable of twin asset ids"
)

# fn(*, asset, action: str, actor) -> None: raise archive.errors.ArchiveError to refuse a
# guarded lifecycle transition of a locked asset (after the archive's own hold check).
asset_guards: Hook[Callable[..., None]] = Hook(
    "asset_guards", "fn(*, asset, action, actor) -> None; raise ArchiveError to refuse"
)

# fn(*, asset, actor, reason: str) -> None: runs inside the transaction of a restore (the
# asset locked), so a child can end what the quarantine started (e.g. void dispositions).
asset_restored: Hook[Callable[..., None]] = Hook(
    "asset_restored", "fn(*, asset, actor, reason) -> None, inside the restore transaction"
)

# fn(*, asset_ids: list[int]) -> dict[int, dict]: facts a child app keeps about assets
# (dedup: the fingerprint), shown with them by the API; one call per page of assets.
asset_facts: Hook[Callable[..., dict]] = Hook(
    "asset_facts", "fn(*, asset_ids: list[int]) -> {asset id: {fact name: value}}"
)

# fn(*, kind: str) -> QuerySet | Iterable[int]: ids of assets in a candidate pair of this
# kind ("exact", "pixel", "derivative", "similar"), for the API's duplicate_kind filter.
assets_paired: Hook[Callable[..., Iterable[int]]] = Hook(
    "assets_paired", "fn(*, kind: str) -> query or iterable of asset ids"
)

# fn(*, asset) -> Any: the archive could not read an asset's stored bytes while serving
# them (missing or unreadable); a child re-checks and records it (retention: a failed
# fixity check, the operator's alert). Runs outside any transaction of the caller's.
asset_bytes_unreadable: Hook[Callable[..., Any]] = Hook(
    "asset_bytes_unreadable", "fn(*, asset) -> Any; re-check the stored bytes and record"
)

# fn(*, fp: BinaryIO, analysis: IngestAnalysis) -> list[dict]: what a file not yet stored
# is a copy of, judged against the assets held: [{"asset": id, "kind", "reason",
# "phash_distance"}]. Runs outside any transaction (it decodes files); for the intake gate.
intake_judges: Hook[Callable[..., list]] = Hook(
    "intake_judges", "fn(*, fp: BinaryIO, analysis) -> list of match dicts"
)

__all__ = [
    "asset_bytes_unreadable",
    "asset_facts",
    "assets_paired",
    "Hook",
    "BinaryIO",
    "asset_analysers",
    "asset_stored",
    "asset_twins",
    "asset_guards",
    "asset_restored",
    "intake_judges",
]
