"""The curators' decisions on candidate pairs: confirm, not a duplicate, defer."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from archive.actors import actor_require, actor_user
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.holds import hold_refusals_audited
from archive.lifecycle import assets_lock
from archive.models import Asset
from dedup.consolidation import consolidation_execute, retrying_conflicts
from dedup.models import Consolidation, DuplicateCandidate
from dedup.selectors import GROUP_KINDS, group_components

BULK_KINDS = {DuplicateCandidate.Kind.EXACT, DuplicateCandidate.Kind.PIXEL}
OPEN = (DuplicateCandidate.Status.PENDING, DuplicateCandidate.Status.DEFERRED)
LOSSLESS = {"PNG", "TIFF", "BMP", "GIF"}


class Decision:
    CONFIRM = "confirm"
    NOT_DUPLICATE = "not_duplicate"
    DEFER = "defer"
    ALL = (CONFIRM, NOT_DUPLICATE, DEFER)


# Each rule scores an asset; the first rule that separates the candidates decides.
CANONICAL_RULES = {
    "pixels": (lambda a: a.pixel_count, "highest pixel count"),
    "lossless": (lambda a: a.format in LOSSLESS, "lossless over lossy"),
    "original": (lambda a: a.role == Asset.Role.ORIGINAL, "original over derivative"),
    "metadata": (lambda a: len(a.exif) + a.entries.count(), "richest metadata"),
    "earliest": (lambda a: -a.ingested_at.timestamp(), "earliest ingest"),
}


@dataclass(frozen=True)
class Suggestion:
    asset: Asset
    reason: str


def canonical_suggest(*, assets: Iterable[Asset]) -> Suggestion:
    """The copy to keep, by the configured rules (KEEPSAKE_CANONICAL_RULES), with the reason."""
    remaining = sorted(assets, key=lambda a: a.pk)
    for name in settings.KEEPSAKE_CANONICAL_RULES:
        score, reason = CANONICAL_RULES[name]
        best = max(score(a) for a in remaining)
        leaders = [a for a in remaining if score(a) == best]
        if len(leaders) < len(remaining):
            if len(leaders) == 1:
                return Suggestion(leaders[0], reason)
            remaining = leaders
    return Suggestion(remaining[0], "all rules tie; the first ingested is kept")


def _require_reviewer(actor) -> None:
    actor_require(actor, "dedup.review_duplicates", "decide duplicate pairs (review permission)")


def _lock_open(candidate: DuplicateCandidate) -> DuplicateCandidate:
    locked = DuplicateCandidate.objects.select_for_update(no_key=True).get(pk=candidate.pk)
    if locked.status not in OPEN:
        by = locked.decided_by.get_username() if locked.decided_by else "someone"
        raise ArchiveError(
            f"This pair was already decided ({locked.get_status_display()}) by {by}.",
            code="conflict",
        )
    return locked


def _record(candidate: DuplicateCandidate, status: str, actor, reason: str) -> None:
    before = candidate.status
    candidate.status, candidate.decided_by = status, actor_user(actor)
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        verb=f"candidate.{status}",
        obj=candidate,
        reason=reason,
        before={"status": before},
        after={"status": status},
    )


@hold_refusals_audited()
@retrying_conflicts
@audited
def candidate_decide(
    *,
    candidate: DuplicateCandidate,
    decision: str,
    actor,
    canonical: Asset | None = None,
    reason: str = "",
) -> Consolidation | None:
    """Apply one curator decision; a confirmation consolidates the pair into canonical."""
    _require_reviewer(actor)
    if decision not in Decision.ALL:
        raise ArchiveError(f"Unknown decision {decision!r}.", code="invalid")
    if decision != Decision.CONFIRM:
        candidate = _lock_open(candidate)
        status = {
            Decision.DEFER: DuplicateCandidate.Status.DEFERRED,
            Decision.NOT_DUPLICATE: DuplicateCandidate.Status.REJECTED,
        }[decision]
        _record(candidate, status, actor, reason)
        return None
    # A pair's assets never change, so they are known before any lock is taken.
    pair = {candidate.asset_a_id, candidate.asset_b_id}
    if canonical is None or canonical.pk not in pair:
        raise ArchiveError("Choose which of the two assets is the canonical copy.", code="invalid")
    (replaced_id,) = pair - {canonical.pk}
    # The global lock order: the assets first (as holds, quarantine, purge and moves do),
    # then the pair, the audit chain head last, when the transaction ends.
    assets_lock(pair)
    candidate = _lock_open(candidate)
    _record(candidate, DuplicateCandidate.Status.CONFIRMED, actor, reason)
    return consolidation_execute(
        canonical=canonical,
        replaced=[Asset.objects.get(pk=replaced_id)],
        candidates=[candidate],
        actor=actor,
        reason=reason,
    )


def candidates_bulk_confirm(*, candidates: Iterable[DuplicateCandidate], actor) -> list:
    """Confirm exact and pixel pairs in bulk, each with its suggested canonical.

    Derivative and similar pairs need a person to look at each one; they are refused.
    Each pair is its own transaction, so one refusal (a hold, a licence conflict) does not
    undo the others; the results say what happened to each.
    """
    results = []
    for candidate in candidates:
        if candidate.kind not in BULK_KINDS:
            results.append(
                (
                    candidate,
                    f"{candidate.get_kind_display()} pairs are decided one "
                    "at a time, never in bulk",
                )
            )
            continue
        suggestion = canonical_suggest(assets=[candidate.asset_a, candidate.asset_b])
        try:
            candidate_decide(
                candidate=candidate,
                decision=Decision.CONFIRM,
                actor=actor,
                canonical=suggestion.asset,
                reason="bulk confirm",
            )
        except ArchiveError as exc:
            results.append((candidate, exc.message))
        else:
            results.append((candidate, ""))
    return results


def _group_members(candidates: list[DuplicateCandidate], canonical: Asset) -> set[int]:
    if not candidates:
        raise ArchiveError("A group needs at least one pair.", code="invalid")
    if any(c.kind not in GROUP_KINDS for c in candidates):
        raise ArchiveError(
            "Look-alike (similar) pairs never join a group; decide them one at a time.",
            code="invalid",
        )
    components = group_components(pairs=[(c.asset_a_id, c.asset_b_id) for c in candidates])
    if len(components) > 1:
        raise ArchiveError(
            f"These pairs are not connected: they form {len(components)} separate groups "
            f"({'; '.join(', '.join(map(str, sorted(c))) for c in components)}); "
            "confirm each group on its own.",
            code="invalid",
        )
    members = components[0]
    if canonical.pk not in members:
        raise ArchiveError("The canonical copy must be one of the group.", code="invalid")
    return members


@hold_refusals_audited()
@retrying_conflicts
@audited
def group_confirm(
    *, candidates: Iterable[DuplicateCandidate], canonical: Asset, actor, reason: str = ""
) -> Consolidation:
    """Confirm a whole group of exact/pixel/derivative pairs into one canonical asset.

    Only assets connected through the given pairs form a group; pairs that fall apart
    into separate groups are refused, so unrelated pictures never share a canonical.
    """
    _require_reviewer(actor)
    chosen = sorted({c.pk: c for c in candidates}.values(), key=lambda c: c.pk)
    members = _group_members(chosen, canonical)
    assets_lock(members)  # assets first: the global lock order
    locked = [_lock_open(c) for c in chosen]
    # Kinds may have been re-judged since the caller read them; check what is locked.
    _group_members(locked, canonical)
    for candidate in locked:
        _record(candidate, DuplicateCandidate.Status.CONFIRMED, actor, reason or "group confirm")
    replaced = list(Asset.objects.filter(pk__in=members - {canonical.pk}).order_by("pk"))
    return consolidation_execute(
        canonical=canonical, replaced=replaced, candidates=locked, actor=actor, reason=reason
    )
