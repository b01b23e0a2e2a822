"""Retention's half of the one guard: every destructive path asks it before touching an asset.

`disposition_blockers` is a read: it lists every reason the action may not happen now
(the enforcement dry run shows them all). `retention_asset_guard` is registered in
`archive.hooks.asset_guards` (RetentionConfig.ready), so `archive.lifecycle.guard_check`,
which every guarded transition runs on the locked asset, asks it after the archive's own
hold check (which audits a refusal): it raises `DispositionBlocked` for every other
blocker. `disposition_guard_check` is that same one guard, for callers outside a transition.
"""

from dataclasses import dataclass
from enum import StrEnum

from django.utils import timezone

from archive.errors import ArchiveError
from archive.licensing import licence_conflict_unresolved
from archive.lifecycle import assets_lock
from archive.models import Asset, CatalogueEntry
from archive.selectors import asset_active_holds, asset_family, assets_frozen_among
from retention.models import DispositionItem, PendingMove, QuarantineRecord
from retention.policies import policies_matching


class Action(StrEnum):
    MOVE = "move"
    QUARANTINE = "quarantine"
    PURGE = "purge"


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str

    def __str__(self):
        return self.message


class DispositionBlocked(ArchiveError):
    """The guard refused an action; carries every blocker it found."""

    def __init__(self, *, asset: Asset, action: str, blockers: list[Blocker]):
        reasons = "; ".join(b.message for b in blockers)
        super().__init__(f"{action} of {asset} refused: {reasons}.", code="blocked")
        self.blockers = blockers


def _hold_blockers(asset: Asset) -> list[Blocker]:
    holds = asset_active_holds(asset=asset)
    if not holds:
        return []
    matters = ", ".join(sorted({hold.matter_reference for hold in holds}))
    return [Blocker("legal_hold", f"under legal hold ({matters})")]


def _state_blockers(asset: Asset, action: str) -> list[Blocker]:
    if asset.state == Asset.State.PURGED:
        return [Blocker("purged", "already purged")]
    if action == Action.PURGE and asset.state != Asset.State.QUARANTINED:
        return [Blocker("not_quarantined", "not in quarantine (purge follows a quarantine)")]
    if action == Action.QUARANTINE and asset.state != Asset.State.ACTIVE:
        return [Blocker("not_active", f"{asset.get_state_display().lower()}, not active")]
    if action == Action.MOVE and asset.state != Asset.State.ACTIVE:
        return [Blocker("not_active", "in quarantine: only a restore moves it out")]
    return []


def published_bytes_last_copy(*, asset: Asset) -> bool:
    """Whether some entry ever published asset's exact bytes and no other asset keeps them."""
    published = CatalogueEntry.objects.filter(published_sha256=asset.sha256).exists()
    if not published:
        return False
    others = (
        Asset.objects.holding_bytes()
        .filter(sha256=asset.sha256, storage_alias__in=[Asset.Tier.HOT, Asset.Tier.COLD])
        .exclude(pk=asset.pk)
    )
    return not others.exists()


def licence_group(*, asset: Asset) -> list[Asset]:
    """The assets whose records were judged together with asset: its canonical and the
    assets replaced by that canonical (`replaced_by`, which a restore or undo clears)."""
    canonical = asset.replaced_by if asset.replaced_by_id is not None else asset
    replaced = list(Asset.objects.filter(replaced_by=canonical).order_by("pk"))
    if not replaced:
        return [asset]
    return [canonical, *replaced]


def _window_blockers(asset: Asset) -> list[Blocker]:
    record = QuarantineRecord.objects.filter(
        asset=asset, restored_at__isnull=True, purged_at__isnull=True
    ).first()
    if record is None:
        return [Blocker("no_quarantine_record", "no open quarantine record")]
    if timezone.now() < record.restore_deadline:
        deadline = f"{record.restore_deadline:%Y-%m-%d %H:%M}"
        return [Blocker("restore_window_open", f"restore window open until {deadline}")]
    return []


def _policy_blockers(asset: Asset) -> list[Blocker]:
    matching = policies_matching(asset=asset)
    forever = [p for p in matching if p.keep_forever]
    if forever:
        return [Blocker("keep_forever", f"retention policy “{forever[0].name}” keeps it forever")]
    if not any(p.purge_after_window for p in matching):
        return [Blocker("no_purge_policy", "no retention policy allows purging it")]
    return []


def _purge_blockers(asset: Asset) -> list[Blocker]:
    blockers = _window_blockers(asset)
    if published_bytes_last_copy(asset=asset):
        blockers.append(Blocker("published_last_copy", "last archival copy of published bytes"))
    if licence_conflict_unresolved(assets=licence_group(asset=asset)):
        blockers.append(Blocker("licence_conflict", "licence conflict not signed off"))
    blockers += _policy_blockers(asset)
    # An item closed by a restore (voided) has executed_at set: it never counts again.
    approved = DispositionItem.objects.filter(
        asset=asset, executed_at__isnull=True, request__approved_at__isnull=False
    ).exclude(outcome__startswith="voided")
    if not approved.exists():
        blockers.append(Blocker("approval_missing", "no approved disposition request"))
    under_way = PendingMove.objects.filter(
        asset=asset, step__in=[PendingMove.Step.STARTED, PendingMove.Step.COPIED]
    )
    if under_way.exists():
        blockers.append(Blocker("move_under_way", "a restore or move of its bytes is under way"))
    return blockers


def _retention_blockers(asset: Asset, action: Action) -> list[Blocker]:
    blockers = _state_blockers(asset, action)
    if action == Action.PURGE and asset.state == Asset.State.QUARANTINED:
        blockers += _purge_blockers(asset)
    return blockers


def disposition_blockers(*, asset: Asset, action: str, frozen: bool | None = None) -> list[Blocker]:
    """Every reason action ("move", "quarantine" or "purge") may not happen to asset now.

    frozen=False says a read just made for a page of assets found no active hold over this
    one (`frozen_among`), so its holds are not read again; the guarded action re-checks
    them on the locked asset whatever the plan said.
    """
    action = Action(action)
    holds = [] if frozen is False else _hold_blockers(asset)
    return holds + _retention_blockers(asset, action)


def frozen_among(assets) -> set[int]:
    """Which of a page of assets an active legal hold freezes (one read for the page)."""
    return assets_frozen_among(asset_ids=[asset.pk for asset in assets])


def asset_family_lock(asset_or_id) -> Asset:
    """Lock an asset for a guarded action, its whole family with it, in primary-key order.

    The hold check share-locks every member of the family (archive.holds), so a hold placed
    meanwhile on any of them waits. Locking the asset alone first would let two actions on
    two members (enforcement quarantining or purging both duplicates a canonical replaced)
    each hold its own asset and wait for the other's: a deadlock. Taking the family's locks
    up front, in the global order, makes the second action wait for the first instead.
    """
    asset_id = asset_or_id if isinstance(asset_or_id, int) else asset_or_id.pk
    family = asset_family(asset_ids=Asset.objects.filter(pk=asset_id).values("pk"))
    return assets_lock({asset_id, *family.values_list("pk", flat=True)})[asset_id]


def retention_asset_guard(*, asset: Asset, action: str, actor) -> None:
    """Refuse a move, quarantine or purge of the locked asset for every non-hold blocker."""
    try:
        action = Action(action)
    except ValueError:
        return  # not a retention action (a consolidation): holds alone decide
    blockers = _retention_blockers(asset, action)
    if blockers:
        raise DispositionBlocked(asset=asset, action=str(action), blockers=blockers)


def disposition_guard_check(*, asset: Asset, action: str, actor) -> None:
    """Refuse action unless nothing blocks it; call it on a locked asset inside the transaction."""
    from archive.lifecycle import guard_check

    guard_check(asset=asset, action=str(Action(action)), actor=actor)


# What a disposition request exists to clear: the approval it asks for and the restore
# window it waits out. Every other blocker still refuses the purge once both are done.
AWAITED = frozenset({"approval_missing", "restore_window_open"})


@dataclass(frozen=True)
class PurgePreview:
    """The guard's answer for one asset's purge, read now, split for the people deciding."""

    asset: Asset
    standing: list[Blocker]
    awaited: list[Blocker]

    @property
    def clear(self) -> bool:
        """Nothing but the approval and the window stands in the way."""
        return not self.standing


def purge_preview(*, assets) -> list[PurgePreview]:
    """What would stop each asset's purge, asked of the guard's own checks; writes nothing.

    The execute path runs the same checks on the locked asset (`guard_check`: the hold
    check, then `retention_asset_guard`), so a request or an approval shows what the
    execution will meet, short of changes made in between.
    """
    previews = []
    for asset in sorted(assets, key=lambda a: a.pk):
        blockers = disposition_blockers(asset=asset, action=Action.PURGE)
        previews.append(
            PurgePreview(
                asset=asset,
                standing=[b for b in blockers if b.code not in AWAITED],
                awaited=[b for b in blockers if b.code in AWAITED],
            )
        )
    return previews


def disposition_request_preview(*, request) -> list[PurgePreview]:
    """purge_preview of the assets a request still has to purge (open items only)."""
    open_items = request.items.filter(executed_at__isnull=True).select_related("asset")
    return purge_preview(assets=[item.asset for item in open_items])
