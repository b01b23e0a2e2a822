"""django-q2 tasks: take ids, load rows, call one service; safe to redeliver or run twice."""

from archive.actors import SYSTEM
from archive.models import Asset


def retention_enforce_task() -> str:
    """Carry out the retention policies (moves, requests for approval, approved purges)."""
    from retention.enforce import retention_enforce

    plan = retention_enforce(dry_run=False, actor=SYSTEM)
    done = sum(1 for step in plan if not step.blocked)
    return f"{len(plan)} planned, {done} attempted, {len(plan) - done} blocked"


def fixity_batch_task(batch_size: int | None = None) -> str:
    """Re-verify the next batch of stored files."""
    from retention.fixity import fixity_batch_run

    return str(fixity_batch_run(batch_size=batch_size))


def quarantine_reminders_task() -> str:
    """Announce restore deadlines that close soon (each one once)."""
    from retention.services import quarantine_deadlines_remind

    return f"{quarantine_deadlines_remind()} reminded"


def moves_resume_task() -> str:
    """Finish storage moves and byte deletions a crash interrupted."""
    from retention.moves import moves_resume

    return str(moves_resume())


def asset_move_task(asset_id: int, to_alias: str) -> str:
    """Move one asset to a tier; a redelivery finds it there already and does nothing."""
    from retention.moves import asset_move

    asset = Asset.objects.holding_bytes().filter(pk=asset_id).first()
    if asset is None:
        return "gone"
    move = asset_move(asset=asset, to_alias=to_alias, actor=SYSTEM)
    return "already there" if move is None else f"moved ({move.pk})"


def disposition_execute_task(request_id: int) -> str:
    """Execute an approved disposition request; executed items are skipped on redelivery."""
    from retention.models import DispositionRequest
    from retention.purge import disposition_execute

    request = DispositionRequest.objects.filter(pk=request_id).first()
    if request is None:
        return "gone"
    return str(disposition_execute(request=request, actor=SYSTEM))


def campaign_snapshots_task() -> str:
    """Store today's figures of every campaign under way; a second run the same day is a no-op."""
    from retention.campaigns import campaign_snapshots_take

    return f"{campaign_snapshots_take()} campaigns"


def certificates_missing_task() -> str:
    """Issue certificates of destruction a crash or an error left out."""
    from retention.certificates import certificates_issue_missing

    return f"{certificates_issue_missing(actor=SYSTEM)} issued"
