"""Retention enforcement: plan what the policies ask for, then do it through the services.

The plan is a read: each planned action carries every blocker the guard reports, so a
dry run shows exactly what would happen and what stands in the way, and changes nothing.
Enforcement runs the same plan through the same services a person would use.

The per-run limit counts only steps that can run. Candidates are walked in a fixed order
by keyset pagination, and a blocked one (held, kept forever, awaiting approval) is
reported and passed over without using up the limit, so however many blocked candidates
sort first, every run carries out up to `limit` runnable steps (or all there are). A
step that was carried out leaves its candidate set (moved, quarantined, purged, or its
purge requested), so repeated runs finish everything runnable.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from archive.actors import SYSTEM
from archive.errors import ArchiveError
from archive.models import Asset
from retention.guard import Action, Blocker, disposition_blockers, frozen_among
from retention.models import DispositionItem, QuarantineRecord, RetentionPolicy
from retention.moves import asset_move
from retention.policies import asset_published_q, policies_current, policies_matching
from retention.purge import (
    disposition_item_execute,
    disposition_request_close,
    disposition_request_create,
)
from retention.services import asset_quarantine

# Candidates read per query while walking past blocked ones.
PAGE_SIZE = 200


@dataclass
class PlannedAction:
    asset: Asset
    action: str  # "move", "quarantine", "request purge" or "purge"
    target: str
    why: str
    blockers: list[Blocker] = field(default_factory=list)
    item: DispositionItem | None = None
    outcome: str = ""

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)


def _after(keys: tuple[str, ...], values: tuple) -> Q:
    """Rows sorting strictly after values in the order of keys (a keyset condition)."""
    condition = Q()
    for i in reversed(range(len(keys))):
        here = Q(**{f"{keys[i]}__gt": values[i]})
        condition = here if i == len(keys) - 1 else here | (Q(**{keys[i]: values[i]}) & condition)
    return condition


def _pages(queryset: QuerySet, keys: tuple[str, ...]) -> Iterator[list]:
    """Every row of queryset in the order of keys, a page (a list of rows) at a time.

    Each page starts after the last row seen, so rows that leave the queryset while
    earlier ones are acted on (an asset moved away) neither shift nor repeat the walk.
    """
    last = None
    while True:
        page = queryset if last is None else queryset.filter(_after(keys, last))
        rows = list(page.order_by(*keys)[:PAGE_SIZE])
        if rows:
            yield rows
        if len(rows) < PAGE_SIZE:
            return
        last = tuple(getattr(rows[-1], key) for key in keys)


def _assets_paged(queryset: QuerySet, keys: tuple[str, ...]) -> Iterator[tuple[Asset, bool]]:
    """Each asset of queryset (keyset order) and whether a legal hold froze it when its
    page was read: one hold query per page instead of one per asset."""
    for page in _pages(queryset, keys):
        frozen = frozen_among(page)
        for asset in page:
            yield asset, asset.pk in frozen


def _cold_steps(policies: list[RetentionPolicy], now) -> Iterator[PlannedAction]:
    days = [p.cold_after_days for p in policies if p.cold_after_days is not None]
    if not days:
        return
    candidates = Asset.objects.filter(
        state=Asset.State.ACTIVE,
        storage_alias=Asset.Tier.HOT,
        ingested_at__lte=now - timedelta(days=min(days)),
    ).annotate(is_published=asset_published_q())
    for asset, frozen in _assets_paged(candidates, ("ingested_at", "pk")):
        matching = policies_matching(asset=asset, policies=policies, published=asset.is_published)
        rule = matching[0] if matching else None
        if rule is None or rule.cold_after_days is None:
            continue
        if asset.ingested_at > now - timedelta(days=rule.cold_after_days):
            continue
        blockers = disposition_blockers(asset=asset, action=Action.MOVE, frozen=frozen)
        why = f"policy “{rule.name}”: hot for {rule.cold_after_days} days"
        yield PlannedAction(asset, "move", Asset.Tier.COLD, why, blockers)


def _homecoming_steps() -> Iterator[PlannedAction]:
    # Back in use while a legal hold kept the bytes in quarantine: move them home.
    strays = Asset.objects.filter(state=Asset.State.ACTIVE, storage_alias=Asset.Tier.QUARANTINE)
    for asset, frozen in _assets_paged(strays, ("pk",)):
        blockers = disposition_blockers(asset=asset, action=Action.MOVE, frozen=frozen)
        yield PlannedAction(asset, "move", Asset.Tier.HOT, "active asset in quarantine", blockers)


def _replaced_steps() -> Iterator[PlannedAction]:
    # Replaced by a canonical but never quarantined (e.g. a hold stopped it at the time).
    replaced = Asset.objects.filter(state=Asset.State.ACTIVE, replaced_by__isnull=False)
    for asset, frozen in _assets_paged(replaced, ("pk",)):
        blockers = disposition_blockers(asset=asset, action=Action.QUARANTINE, frozen=frozen)
        why = f"replaced by asset {asset.replaced_by_id}"
        yield PlannedAction(asset, "quarantine", Asset.Tier.QUARANTINE, why, blockers)


def _purge_step(record: QuarantineRecord, frozen: bool) -> PlannedAction:
    asset = record.asset
    blockers = disposition_blockers(asset=asset, action=Action.PURGE, frozen=frozen)
    why = f"restore window closed {record.restore_deadline:%Y-%m-%d}"
    open_items = DispositionItem.objects.filter(asset=asset, executed_at__isnull=True)
    approved = open_items.filter(request__approved_at__isnull=False).first()
    if approved is not None:
        return PlannedAction(asset, "purge", "purge", why, blockers, item=approved)
    waiting = open_items.filter(request__executed_at__isnull=True).first()
    if waiting is not None:
        why += f"; request {waiting.request_id} awaits a second person's approval"
        return PlannedAction(asset, "purge", "purge", why, blockers, item=waiting)
    # Filing the request is what the policy asks now; the approval comes from a person.
    blockers = [b for b in blockers if b.code != "approval_missing"]
    return PlannedAction(asset, "request purge", "purge", why, blockers)


def _purge_steps(now) -> Iterator[PlannedAction]:
    due = QuarantineRecord.objects.filter(
        restored_at__isnull=True, purged_at__isnull=True, restore_deadline__lte=now
    ).select_related("asset")
    for page in _pages(due, ("restore_deadline", "pk")):
        frozen = frozen_among([record.asset for record in page])
        for record in page:
            yield _purge_step(record, record.asset_id in frozen)


def _step_sources(now) -> list[Iterable[PlannedAction]]:
    """The kinds of step, each walked on its own with its own limit."""
    policies = policies_current()
    return [_cold_steps(policies, now), _homecoming_steps(), _replaced_steps(), _purge_steps(now)]


def _take(
    steps: Iterable[PlannedAction], limit: int, attempt: Callable[[PlannedAction], bool]
) -> list[PlannedAction]:
    """Walk steps until limit of them ran; blocked (and refused) ones are kept, not counted."""
    taken, ran = [], 0
    for step in steps:
        taken.append(step)
        if step.blocked:
            step.outcome = "blocked"
        elif attempt(step):
            ran += 1
            if ran >= limit:
                break
    return taken


def _would_run(step: PlannedAction) -> bool:
    step.outcome = "would run"
    return True


def retention_plan(*, now=None, limit: int | None = None) -> list[PlannedAction]:
    """Every move, quarantine and purge the policies ask for now, each with its blockers.

    Per kind of step, up to limit runnable steps, with every blocked step found before
    the last of them (or all blocked steps, when fewer than limit can run).
    """
    now = now or timezone.now()
    limit = limit or settings.KEEPSAKE_RETENTION_BATCH
    plan = []
    for steps in _step_sources(now):
        plan += _take(steps, limit, _would_run)
    return plan


def _execute(step: PlannedAction, actor) -> str:
    if step.action == "move":
        asset_move(asset=step.asset, to_alias=step.target, actor=actor)
        return f"moved to {step.target}"
    if step.action == "quarantine":
        asset_quarantine(asset=step.asset, reason=step.why, actor=actor)
        return "quarantined"
    outcome = disposition_item_execute(item=step.item, actor=actor)
    disposition_request_close(request=step.item.request, actor=actor)
    return outcome


_REQUEST_REASON = "restore windows closed under a policy that purges after the window"


def _file_requests(steps: list[PlannedAction], actor) -> None:
    if not steps:
        return
    try:
        request = disposition_request_create(
            assets=[s.asset for s in steps], reason=_REQUEST_REASON, actor=actor
        )
    except ArchiveError as exc:
        if len(steps) == 1:
            steps[0].outcome = f"refused: {exc.message}"
            return
        # One refused asset must not keep the others from being requested: file one by one.
        for step in steps:
            _file_requests([step], actor)
        return
    for step in steps:
        step.outcome = f"disposition request {request.pk} filed; awaits approval"


def retention_enforce(*, dry_run: bool, actor=SYSTEM, limit: int | None = None):
    """Carry out the plan (or, with dry_run, only report it); blocked steps are skipped.

    Per kind of step, up to limit steps are carried out; blocked and refused steps are
    reported and do not count, so blocked candidates can never stall enforcement.
    """
    if dry_run:
        return retention_plan(limit=limit)
    if actor is None:
        raise ArchiveError("Enforcement runs as a named person or the system.", code="invalid")
    limit = limit or settings.KEEPSAKE_RETENTION_BATCH
    requests: list[PlannedAction] = []

    def attempt(step: PlannedAction) -> bool:
        if step.action == "request purge":
            requests.append(step)
            return True
        try:
            step.outcome = _execute(step, actor)
        except ArchiveError as exc:
            step.outcome = f"refused: {exc.message}"
            return False
        return True

    plan = []
    for steps in _step_sources(timezone.now()):
        plan += _take(steps, limit, attempt)
    _file_requests(requests, actor)
    return plan
