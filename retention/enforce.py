"""Retention enforcement: plan what the policies ask for, then do it through the services.

The plan is a read: each planned action carries every blocker the guard reports, so a
dry run shows exactly what would happen and what stands in the way, and changes nothing.
Enforcement runs the same plan through the same services a person would use.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from archive.errors import ArchiveError
from archive.models import Asset
from retention.guard import Action, Blocker, disposition_blockers
from retention.models import DispositionItem, QuarantineRecord, RetentionPolicy
from retention.moves import asset_move
from retention.policies import asset_published_q, policies_current, policies_matching
from retention.purge import (
    disposition_item_execute,
    disposition_request_close,
    disposition_request_create,
)
from retention.services import asset_quarantine


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


def _plan_cold(policies: list[RetentionPolicy], now, limit: int) -> list[PlannedAction]:
    days = [p.cold_after_days for p in policies if p.cold_after_days is not None]
    if not days:
        return []
    candidates = (
        Asset.objects.filter(
            state=Asset.State.ACTIVE,
            storage_alias=Asset.Tier.HOT,
            ingested_at__lte=now - timedelta(days=min(days)),
        )
        .annotate(is_published=asset_published_q())
        .order_by("ingested_at", "pk")
    )
    planned = []
    for asset in candidates.iterator(chunk_size=500):
        matching = policies_matching(asset=asset, policies=policies, published=asset.is_published)
        rule = matching[0] if matching else None
        if rule is None or rule.cold_after_days is None:
            continue
        if asset.ingested_at > now - timedelta(days=rule.cold_after_days):
            continue
        blockers = disposition_blockers(asset=asset, action=Action.MOVE)
        why = f"policy “{rule.name}”: hot for {rule.cold_after_days} days"
        planned.append(PlannedAction(asset, "move", Asset.Tier.COLD, why, blockers))
        if len(planned) >= limit:
            break
    return planned


def _plan_strays(limit: int) -> list[PlannedAction]:
    planned = []
    # Back in use while a legal hold kept the bytes in quarantine: move them home.
    for asset in Asset.objects.filter(
        state=Asset.State.ACTIVE, storage_alias=Asset.Tier.QUARANTINE
    ).order_by("pk")[:limit]:
        blockers = disposition_blockers(asset=asset, action=Action.MOVE)
        planned.append(
            PlannedAction(asset, "move", Asset.Tier.HOT, "active asset in quarantine", blockers)
        )
    # Replaced by a canonical but never quarantined (e.g. a hold stopped it at the time).
    for asset in Asset.objects.filter(state=Asset.State.ACTIVE, replaced_by__isnull=False).order_by(
        "pk"
    )[:limit]:
        blockers = disposition_blockers(asset=asset, action=Action.QUARANTINE)
        why = f"replaced by asset {asset.replaced_by_id}"
        planned.append(PlannedAction(asset, "quarantine", Asset.Tier.QUARANTINE, why, blockers))
    return planned


def _purge_step(record: QuarantineRecord) -> PlannedAction:
    asset = record.asset
    blockers = disposition_blockers(asset=asset, action=Action.PURGE)
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


def _plan_purges(now, limit: int) -> list[PlannedAction]:
    due = (
        QuarantineRecord.objects.filter(
            restored_at__isnull=True, purged_at__isnull=True, restore_deadline__lte=now
        )
        .select_related("asset")
        .order_by("restore_deadline", "pk")[:limit]
    )
    return [_purge_step(record) for record in due]


def retention_plan(*, now=None, limit: int | None = None) -> list[PlannedAction]:
    """Every move, quarantine and purge the policies ask for now, each with its blockers."""
    now = now or timezone.now()
    limit = limit or settings.KEEPSAKE_RETENTION_BATCH
    policies = policies_current()
    return _plan_cold(policies, now, limit) + _plan_strays(limit) + _plan_purges(now, limit)


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


def _file_requests(steps: list[PlannedAction], actor) -> None:
    if not steps:
        return
    request = disposition_request_create(
        assets=[s.asset for s in steps],
        reason="restore windows closed under a policy that purges after the window",
        actor=actor,
    )
    for step in steps:
        step.outcome = f"disposition request {request.pk} filed; awaits approval"


def retention_enforce(*, dry_run: bool, actor=None, limit: int | None = None):
    """Carry out the plan (or, with dry_run, only report it); blocked steps are skipped."""
    plan = retention_plan(limit=limit)
    requests = []
    for step in plan:
        if dry_run or step.blocked:
            step.outcome = "blocked" if step.blocked else "would run"
        elif step.action == "request purge":
            requests.append(step)
        else:
            try:
                step.outcome = _execute(step, actor)
            except ArchiveError as exc:
                step.outcome = f"refused: {exc.message}"
    try:
        _file_requests(requests, actor)
    except ArchiveError as exc:
        for step in requests:
            step.outcome = f"refused: {exc.message}"
    return plan
