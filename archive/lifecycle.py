"""The asset lifecycle: the one place that changes an asset's state, tier pointer or
replacement, by a table of transitions, each guarded, locked and audited the same way.

    transition  from            to              guarded (the one guard)   audit verb
    ingest      -               active          no                        asset.ingested
    attach      active          active          no                        asset.source_attached
    replace     active          active+replaced yes ("consolidate")       asset.replaced
    quarantine  active          quarantined     yes ("quarantine")        asset.quarantined
    restore     quarantined     active          no (gives bytes back)     asset.restored
    move        active|quar.    same            yes ("move"), not for      asset.moved
                                                quarantine/restore moves
    purge       quarantined     purged          yes ("purge")             asset.purged

A restore also ends a replacement (`replaced_by` cleared) and runs the `asset_restored`
hooks (retention voids open disposition items), so nothing decided before the restore
is carried out on the restored asset later. An undo of a consolidation is a restore.

Rules every caller follows, enforced here or by `archive.models` refusing writes made
outside `lifecycle_writes()`:
- Lock order: assets by primary key (`assets_lock`), then other rows, then the audit
  chain head, which `archive.audit.audited` takes last, only to append.
- A transition runs on a locked asset inside an `audited` transaction; the guard runs
  inside the lock, so a hold placed a moment ago wins.
- No file or network I/O inside these transactions: byte work is a `PendingMove`
  (retention) run before or after them, resumable at every step.
"""

from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection

from archive import hooks
from archive.audit import audit_record
from archive.errors import ArchiveError
from archive.models import Asset

ACTIVE, QUARANTINED, PURGED = Asset.State.ACTIVE, Asset.State.QUARANTINED, Asset.State.PURGED

# The columns only the lifecycle may change (archive.models refuses other writes).
LIFECYCLE_FIELDS = ("state", "storage_alias", "storage_key", "replaced_by")

_writing: ContextVar[bool] = ContextVar("keepsake_lifecycle_writing", default=False)


@contextmanager
def lifecycle_writes():
    """Let the code inside change lifecycle columns; only this module and tests use it."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def lifecycle_active() -> bool:
    return _writing.get()


class Transition(StrEnum):
    INGEST = "ingest"
    ATTACH = "attach"
    REPLACE = "replace"
    QUARANTINE = "quarantine"
    RESTORE = "restore"
    MOVE = "move"
    PURGE = "purge"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: str | None  # None: the state does not change
    guard_action: str | None  # the action the guard is asked about; None: not guarded
    verb: str


TRANSITIONS: dict[Transition, Rule] = {
    Transition.INGEST: Rule(frozenset(), ACTIVE, None, "asset.ingested"),
    Transition.ATTACH: Rule(frozenset({ACTIVE}), None, None, "asset.source_attached"),
    Transition.REPLACE: Rule(frozenset({ACTIVE}), None, "consolidate", "asset.replaced"),
    Transition.QUARANTINE: Rule(
        frozenset({ACTIVE}), QUARANTINED, "quarantine", "asset.quarantined"
    ),
    Transition.RESTORE: Rule(frozenset({QUARANTINED}), ACTIVE, None, "asset.restored"),
    Transition.MOVE: Rule(frozenset({ACTIVE, QUARANTINED}), None, "move", "asset.moved"),
    Transition.PURGE: Rule(frozenset({QUARANTINED}), PURGED, "purge", "asset.purged"),
}


def assets_lock(ids: Iterable[int]) -> dict[int, Asset]:
    """Lock the assets with these ids in primary-key order (the global order); by id."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    if not connection.in_atomic_block:
        raise ArchiveError("Assets are locked inside the transaction that changes them.")
    # NO KEY: asset rows are never deleted and their keys never change (tombstones stay).
    rows = Asset.objects.filter(pk__in=ids).order_by("pk").select_for_update(no_key=True)
    locked = {asset.pk: asset for asset in rows}
    missing = set(ids) - set(locked)
    if missing:
        raise ArchiveError(f"No asset {sorted(missing)[0]}.", code="not_found")
    return locked


def asset_lock(asset_or_id) -> Asset:
    asset_id = asset_or_id if isinstance(asset_or_id, int) else asset_or_id.pk
    return assets_lock([asset_id])[asset_id]


def guard_check(*, asset: Asset, action: str, actor) -> None:
    """The one guard: legal holds (audited refusal) first, then every registered guard."""
    from archive.holds import hold_guard_check

    hold_guard_check(asset=asset, action=action, actor=actor)
    for guard in hooks.asset_guards:
        guard(asset=asset, action=action, actor=actor)


def asset_transition(
    *,
    asset: Asset,
    transition: Transition,
    actor,
    reason: str = "",
    changes: dict | None = None,
    before: dict | None = None,
    after: dict | None = None,
    guard: bool = True,
) -> Asset:
    """Apply one transition to a locked asset: check the table, guard, write, audit.

    changes sets further lifecycle columns (storage_alias, storage_key, replaced_by).
    guard=False is for byte moves that are part of a transition already guarded
    (the move of a quarantine or a restore).
    """
    rule = TRANSITIONS[Transition(transition)]
    if rule.sources and asset.state not in rule.sources:
        raise ArchiveError(
            f"{asset} is {asset.get_state_display().lower()}; {transition} is not possible.",
            code="conflict",
        )
    if transition == Transition.REPLACE and asset.replaced_by_id is not None:
        raise ArchiveError(f"{asset} is already replaced by another asset.", code="conflict")
    if guard and rule.guard_action:
        guard_check(asset=asset, action=rule.guard_action, actor=actor)
    fields = dict(changes or {})
    if rule.target is not None:
        fields["state"] = rule.target
    if transition == Transition.RESTORE:
        fields.setdefault("replaced_by", None)
    # The state is on the record when it changes; other transitions say what they changed.
    changes_state = "state" in fields and fields["state"] != asset.state
    recorded_before = {**({"state": asset.state} if changes_state else {}), **(before or {})}
    # Every change of the pointer is on the record the same way, whoever asked for it.
    old_storage = f"{asset.storage_alias}:{asset.storage_key}"
    with lifecycle_writes():
        for name, value in fields.items():
            setattr(asset, name, value)
        if fields:
            asset.save(update_fields=sorted(fields))
    if transition == Transition.RESTORE:
        for hook in hooks.asset_restored:
            hook(asset=asset, actor=actor, reason=reason)
    recorded_after = {**({"state": asset.state} if changes_state else {}), **(after or {})}
    new_storage = f"{asset.storage_alias}:{asset.storage_key}"
    if new_storage != old_storage:
        recorded_before["storage"], recorded_after["storage"] = old_storage, new_storage
    audit_record(
        actor=actor,
        verb=rule.verb,
        obj=asset,
        reason=reason,
        before=recorded_before or None,
        after=recorded_after,
    )
    return asset


def asset_create(*, asset: Asset, actor, after: dict) -> Asset:
    """Save a new asset (the ingest transition); IntegrityError propagates to the caller."""
    if asset.pk is not None:
        raise ArchiveError("The asset exists already.")
    asset.state = ACTIVE
    with lifecycle_writes():
        asset.save()
    audit_record(actor=actor, verb=TRANSITIONS[Transition.INGEST].verb, obj=asset, after=after)
    return asset
