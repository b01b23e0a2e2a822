"""The curators' decisions on candidate pairs: confirm, not a duplicate, defer."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from archive.actors import actor_require, actor_user
from archive.audit import audit_record, audited
from archive.errors import ArchiveError
from archive.holds import hold_refusals_audited
from archive.lifecycle import assets_lock
from archive.models import Asset, CatalogueEntry
from dedup.consolidation import consolidation_execute, retrying_conflicts
from dedup.models import Consolidation, DuplicateCandidate
from dedup.selectors import (
    GROUP_KINDS,
    group_components,
    published_bytes_ids,
    reference_collections,
)

BULK_KINDS = {DuplicateCandidate.Kind.EXACT, DuplicateCandidate.Kind.PIXEL}
OPEN = (DuplicateCandidate.Status.PENDING, DuplicateCandidate.Status.DEFERRED)
LOSSLESS = {"PNG", "TIFF", "BMP", "GIF"}
SIMILAR = DuplicateCandidate.Kind.SIMILAR
# An override is a statement on the record: a word or two is not a reason.
OVERRIDE_REASON_MIN = 10


class Decision:
    CONFIRM = "confirm"
    NOT_DUPLICATE = "not_duplicate"
    DEFER = "defer"
    ALL = (CONFIRM, NOT_DUPLICATE, DEFER)


@dataclass(frozen=True)
class CanonicalFacts:
    """What the canonical rules know of one copy (plain values, so the order is testable)."""

    pk: int
    pixels: int
    size: int
    format: str = ""
    jpeg_quality: int | None = None
    original: bool = True
    metadata: int = 0
    ingested: float = 0.0
    reference: bool = False
    published: bool = False

    @property
    def lossless(self) -> bool:
        return self.format in LOSSLESS

    @property
    def quality(self) -> int | None:
        # A lossless file lost nothing; a lossy one without an estimate cannot be ranked.
        return 100 if self.lossless else self.jpeg_quality


# Each rule scores a copy; the first rule that separates the candidates decides. A rule
# that cannot score every remaining copy (None) says nothing. Reference collections and
# published bytes always come first: a reference copy is never replaced, and a published
# original is never replaced by a conversion of it, whatever the configured rules say.
FIXED_RULES = ("reference", "published")
CANONICAL_RULES = {
    "reference": (lambda f: f.reference, "it belongs to a reference collection"),
    "published": (lambda f: f.published, "its exact bytes were published"),
    "pixels": (lambda f: f.pixels, "highest pixel count"),
    "quality": (lambda f: f.quality, "higher JPEG quality"),
    "size": (lambda f: f.size, "larger file"),
    "lossless": (lambda f: f.lossless, "lossless over lossy"),
    "original": (lambda f: f.original, "original over derivative"),
    "metadata": (lambda f: f.metadata, "richest metadata"),
    "earliest": (lambda f: -f.ingested, "earliest ingest"),
}


@dataclass(frozen=True)
class Suggestion:
    asset: Asset
    reason: str


def canonical_rank(*, facts: Iterable[CanonicalFacts], rules: Iterable[str]) -> tuple[int, str]:
    """The pk of the copy to keep and the rule that chose it (pure: no database)."""
    remaining = sorted(facts, key=lambda f: f.pk)
    if not remaining:
        raise ArchiveError("There is nothing to choose from.", code="invalid")
    for name in (*FIXED_RULES, *(r for r in rules if r not in FIXED_RULES)):
        score, reason = CANONICAL_RULES[name]
        scores = [score(f) for f in remaining]
        if any(s is None for s in scores):
            continue
        best = max(scores)
        leaders = [f for f, s in zip(remaining, scores, strict=True) if s == best]
        if len(leaders) < len(remaining):
            if len(leaders) == 1:
                return leaders[0].pk, reason
            remaining = leaders
    return remaining[0].pk, "all rules tie; the first ingested is kept"


def evidence_qualities(*, candidates: Iterable[DuplicateCandidate]) -> dict[int, int]:
    """JPEG quality estimates per asset, read from the evidence of its pairs."""
    found: dict[int, int] = {}
    for c in candidates:
        for side, asset_id in (("a", c.asset_a_id), ("b", c.asset_b_id)):
            quality = (c.evidence.get(side) or {}).get("jpeg_quality")
            if isinstance(quality, int):
                found.setdefault(asset_id, quality)
    return found


def canonical_facts(
    *, assets: Iterable[Asset], qualities: dict[int, int] | None = None
) -> list[CanonicalFacts]:
    """The facts of each asset the rules read, in a fixed number of queries."""
    assets = list(assets)
    ids = [a.pk for a in assets]
    reference = reference_collections(asset_ids=ids)
    published = published_bytes_ids(asset_ids=ids)
    entries = dict(
        CatalogueEntry.objects.filter(asset__in=ids)
        .values_list("asset")
        .annotate(n=Count("pk"))
        .values_list("asset", "n")
    )
    qualities = qualities or {}
    return [
        CanonicalFacts(
            pk=a.pk,
            pixels=a.pixel_count,
            size=a.size,
            format=a.format,
            jpeg_quality=qualities.get(a.pk),
            original=a.role == Asset.Role.ORIGINAL,
            metadata=len(a.exif or {}) + entries.get(a.pk, 0),
            ingested=a.ingested_at.timestamp(),
            reference=a.pk in reference,
            published=a.pk in published,
        )
        for a in assets
    ]


def canonical_suggest(
    *, assets: Iterable[Asset], qualities: dict[int, int] | None = None
) -> Suggestion:
    """The copy to keep, by the configured rules (KEEPSAKE_CANONICAL_RULES), with the reason.

    Reference collections first, then published bytes, then the rules; `qualities` (JPEG
    quality per asset id, see `evidence_qualities`) lets quality break pixel-count ties.
    """
    assets = list(assets)
    pk, reason = canonical_rank(
        facts=canonical_facts(assets=assets, qualities=qualities),
        rules=settings.KEEPSAKE_CANONICAL_RULES,
    )
    return Suggestion(next(a for a in assets if a.pk == pk), reason)


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


def _record(candidate: DuplicateCandidate, status: str, actor, reason: str, **audit) -> None:
    before = candidate.status
    candidate.status, candidate.decided_by = status, actor_user(actor)
    candidate.decided_at = timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        verb=audit.pop("verb", f"candidate.{status}"),
        obj=candidate,
        reason=reason,
        before={"status": before},
        after={"status": status, **audit},
    )


def _override_check(candidate: DuplicateCandidate, *, override: bool, reason: str) -> None:
    # Read on the locked row: a re-judgement may have made the pair a look-alike meanwhile.
    if candidate.kind != SIMILAR:
        return
    if not override:
        raise ArchiveError(
            "This pair is judged a look-alike (similar): by the evidence these are two "
            "different photographs. Confirming it needs an explicit override with a reason.",
            code="override_required",
        )
    if len(reason.strip()) < OVERRIDE_REASON_MIN:
        raise ArchiveError(
            "An override needs a reason: say in a sentence why these are the same "
            f"photograph (at least {OVERRIDE_REASON_MIN} characters).",
            code="invalid",
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
    override: bool = False,
) -> Consolidation | None:
    """Apply one curator decision; a confirmation consolidates the pair into canonical.

    A look-alike (similar) pair is confirmed only with `override=True` and a reason; the
    event is audited as `candidate.override_confirmed`.
    """
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
    _override_check(candidate, override=override, reason=reason)
    audit = {}
    if candidate.kind == SIMILAR:
        audit = {
            "verb": "candidate.override_confirmed",
            "override": True,
            "kind": candidate.kind,
            "canonical": canonical.pk,
            "quarantined": [replaced_id],
        }
    _record(candidate, DuplicateCandidate.Status.CONFIRMED, actor, reason, **audit)
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
        try:
            suggestion = canonical_suggest(
                assets=[candidate.asset_a, candidate.asset_b],
                qualities=evidence_qualities(candidates=[candidate]),
            )
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


def _group_split(
    locked: list[DuplicateCandidate], separate: set[int]
) -> tuple[list[DuplicateCandidate], list[DuplicateCandidate]]:
    """(pairs to confirm, pairs to reject): a copy kept separately is not a duplicate of
    the rest; pairs between two copies kept separately are left open."""
    confirm, reject = [], []
    for c in locked:
        inside = {c.asset_a_id, c.asset_b_id} & separate
        if not inside:
            confirm.append(c)
        elif len(inside) == 1:
            reject.append(c)
    return confirm, reject


@hold_refusals_audited()
@retrying_conflicts
@audited
def group_resolve(
    *,
    candidates: Iterable[DuplicateCandidate],
    canonical: Asset,
    actor,
    separate: Iterable[int] = (),
    reason: str = "",
) -> Consolidation | None:
    """One decision for a group: keep canonical, consolidate (trash) the others into it,
    and mark the copies in `separate` (asset ids) as not duplicates of the rest.

    Only assets connected through the given pairs form a group; pairs that fall apart
    into separate groups are refused, so unrelated pictures never share a canonical. The
    copies left after those kept separately must still be connected.
    """
    _require_reviewer(actor)
    chosen = sorted({c.pk: c for c in candidates}.values(), key=lambda c: c.pk)
    separate = set(separate)
    members = _group_members(chosen, canonical)
    if canonical.pk in separate or not separate <= members:
        raise ArchiveError(
            "Copies kept separately must be members of the group other than the kept copy.",
            code="invalid",
        )
    assets_lock(members)  # assets first: the global lock order
    locked = [_lock_open(c) for c in chosen]
    # Kinds may have been re-judged since the caller read them; check what is locked.
    _group_members(locked, canonical)
    confirm, reject = _group_split(locked, separate)
    for candidate in reject:
        _record(
            candidate,
            DuplicateCandidate.Status.REJECTED,
            actor,
            reason or "kept separately from its group",
        )
    if len(members - separate) == 1:
        return None  # every other copy is kept separately: nothing to consolidate
    remaining = _group_members(confirm, canonical) if confirm else set()
    if remaining != members - separate:
        raise ArchiveError(
            "Without the copies kept separately the rest of the group is no longer "
            "connected; decide those pairs one at a time.",
            code="invalid",
        )
    for candidate in confirm:
        _record(candidate, DuplicateCandidate.Status.CONFIRMED, actor, reason or "group confirm")
    replaced = list(Asset.objects.filter(pk__in=remaining - {canonical.pk}).order_by("pk"))
    return consolidation_execute(
        canonical=canonical, replaced=replaced, candidates=confirm, actor=actor, reason=reason
    )


def group_confirm(
    *, candidates: Iterable[DuplicateCandidate], canonical: Asset, actor, reason: str = ""
) -> Consolidation:
    """Confirm a whole group of exact/pixel/derivative pairs into one canonical asset."""
    return group_resolve(candidates=candidates, canonical=canonical, actor=actor, reason=reason)
