"""Writes of the dedup app: fingerprints and the candidate pairs they reveal."""

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from archive.actors import SYSTEM
from archive.audit import audit_record, audited
from archive.models import Asset
from archive.storage import bytes_open
from dedup import mih
from dedup.imaging import (
    HASH_VERSION,
    ImageDecodeError,
    ImageFingerprint,
    fingerprint_image,
    signed64,
    unsigned64,
)
from dedup.index import MAIN, VARIANTS, near_lookup, phash_bands
from dedup.judge import VARIANT_DISTANCE, candidate_keep, pair_judge
from dedup.models import DuplicateCandidate, Fingerprint, FingerprintVariant, ScanRun

MASK64 = (1 << 64) - 1


def near_distance() -> int:
    """pHash distance within which a pair is flagged whatever the judgement finds."""
    return settings.KEEPSAKE_NEAR_DISTANCE


def verify_distance() -> int:
    """The lookup's reach; pairs past near_distance() must prove one picture."""
    return settings.KEEPSAKE_VERIFY_DISTANCE


def variant_distance() -> int:
    """Distance between a main pHash and a variant (turned, mirrored, window) that is looked at.

    Pairs found only this way must prove one picture, like those past near_distance().
    """
    return VARIANT_DISTANCE


@dataclass(frozen=True)
class FingerprintOutcome:
    fingerprint: Fingerprint
    candidates: list[DuplicateCandidate]


@audited
def fingerprint_store(
    *, asset: Asset, fingerprint: ImageFingerprint | None, error: str = "", actor=None
) -> Fingerprint:
    """Save (or replace) the asset's fingerprint, or the reason it could not be computed."""
    values = {
        "sha256": asset.sha256,
        "phash": None,
        "dhash": None,
        "phash_b0": None,
        "phash_b1": None,
        "phash_b2": None,
        "phash_b3": None,
        "low_information": False,
        "pixel_sha256": "",
        "hash_version": HASH_VERSION,
        "error": error,
        "computed_at": timezone.now(),
    }
    if fingerprint is not None:
        bands = phash_bands(phash=fingerprint.phash)
        values.update(
            phash=signed64(fingerprint.phash),
            dhash=signed64(fingerprint.dhash),
            low_information=fingerprint.low_information,
            pixel_sha256=fingerprint.pixel_sha256,
            hash_version=fingerprint.hash_version,
            **{f"phash_b{i}": band for i, band in enumerate(bands)},
        )
    stored, _ = Fingerprint.objects.update_or_create(asset=asset, defaults=values)
    FingerprintVariant.objects.filter(fingerprint=stored).delete()
    if fingerprint is not None and not fingerprint.low_information and fingerprint.variants:
        FingerprintVariant.objects.bulk_create(
            FingerprintVariant(
                fingerprint=stored,
                asset=asset,
                variant=name,
                phash=signed64(code),
                **{f"phash_b{i}": band for i, band in enumerate(phash_bands(phash=code))},
            )
            for name, code in fingerprint.variants
        )
    if error:
        audit_record(actor=actor, verb="fingerprint.failed", obj=asset, reason=error)
    return stored


def _pair(asset_id: int, other_id: int) -> tuple[int, int]:
    return (asset_id, other_id) if asset_id < other_id else (other_id, asset_id)


def candidates_judge(*, pairs: dict[tuple[int, int], tuple[int, int]]) -> list[DuplicateCandidate]:
    """Judge the pairs not stored yet; unsaved candidates for those worth reviewing.

    Judging decodes both files, so it runs outside any transaction (no lock is held while
    bytes are read, possibly from S3); `candidates_store` then records them briefly.
    """
    ordered = {_pair(*pair): distances for pair, distances in pairs.items() if pair[0] != pair[1]}
    if not ordered:
        return []
    known = set(
        DuplicateCandidate.objects.filter(
            asset_a__in={a for a, _ in ordered}, asset_b__in={b for _, b in ordered}
        ).values_list("asset_a", "asset_b")
    )
    fresh = [pair for pair in ordered if pair not in known]
    assets = Asset.objects.in_bulk({i for pair in fresh for i in pair})
    judged = []
    for a, b in sorted(fresh):
        phash_d, dhash_d = ordered[(a, b)]
        verdict = pair_judge(
            asset_a=assets[a], asset_b=assets[b], phash_distance=phash_d, dhash_distance=dhash_d
        )
        if not candidate_keep(kind=verdict.kind, phash_distance=phash_d):
            continue
        judged.append(
            DuplicateCandidate(
                asset_a=assets[a],
                asset_b=assets[b],
                kind=verdict.kind,
                phash_distance=phash_d,
                dhash_distance=dhash_d,
                evidence=verdict.evidence,
            )
        )
    return judged


@audited
def candidates_store(
    *, candidates: list[DuplicateCandidate], found_by: str, actor=SYSTEM
) -> list[DuplicateCandidate]:
    """Insert judged candidates not stored yet; audit exactly the rows inserted."""
    created = []
    for candidate in candidates:
        candidate.found_by = found_by
        try:
            # A concurrent scan may have stored the same pair a moment ago: the unique
            # pair constraint tells (PostgreSQL waits for that scan to commit first), and
            # the pair is skipped, so only the scan whose row is stored flags it.
            with transaction.atomic():
                candidate.save(force_insert=True)
        except IntegrityError:
            candidate.pk = None
            continue
        created.append(candidate)
        audit_record(
            actor=actor,
            verb="candidate.flagged",
            obj=candidate,
            after={
                "asset_a": candidate.asset_a_id,
                "asset_b": candidate.asset_b_id,
                "kind": candidate.kind,
                "phash": candidate.phash_distance,
                "dhash": candidate.dhash_distance,
                "found_by": found_by,
            },
        )
    return created


def candidates_record(
    *, pairs: dict[tuple[int, int], tuple[int, int]], found_by: str, actor=SYSTEM
) -> list[DuplicateCandidate]:
    """Store new candidate pairs {(a, b): (phash_d, dhash_d)}; known pairs stay as decided.

    A pair already stored keeps its row and status, so a "not a duplicate" decision is
    never undone by a later scan. Pairs beyond KEEPSAKE_NEAR_DISTANCE are kept only when
    judged to be one picture (candidate_keep). Call it outside a transaction: the judgement
    reads files.
    """
    judged = candidates_judge(pairs=pairs)
    if not judged:
        return []
    return candidates_store(candidates=judged, found_by=found_by, actor=actor)


def candidate_lookup(*, fingerprint: Fingerprint, own_variants: bool = True) -> dict[int, int]:
    """The candidate rule's lookup for one fingerprint: {other asset id: main pHash distance}.

    The one rule (ingest, rolling scan, report and --record alike): a pair is a candidate
    when the main pHashes are within verify_distance(), or when one asset's main pHash is
    within variant_distance() of a variant of the other (its pixels turned or mirrored, a
    window for heavy crops and other aspect ratios), in either direction. candidate_keep
    then keeps pairs past near_distance() only when the judgement proves one picture.

    own_variants=False leaves out one direction: this picture's own variants against the
    others' main hashes (about 50 index lookups; 0.3 s at 20,000 assets on PostgreSQL).
    The ingest check leaves it out, so it finds turned and mirrored copies both ways and
    crops and re-framings when they arrive after their original; the rolling scan covers
    that direction for every new fingerprint in one in-memory join (own_variant_pairs).
    """
    if fingerprint.error or fingerprint.low_information:
        return {}
    phash = unsigned64(fingerprint.phash)
    found = set(near_lookup(phash=phash, k=verify_distance()))
    # This picture's main hash against the others' variants, and its variants against
    # the others' main hashes.
    found |= set(near_lookup(phash=phash, k=variant_distance(), table=VARIANTS))
    if own_variants:
        own = FingerprintVariant.objects.filter(fingerprint=fingerprint)
        for code in own.values_list("phash", flat=True):
            found |= set(near_lookup(phash=unsigned64(code), k=variant_distance(), table=MAIN))
    found.discard(fingerprint.asset_id)
    rows = Fingerprint.objects.filter(
        asset__in=Asset.objects.holding_bytes().filter(pk__in=found),
        error="",
        low_information=False,
    ).values_list("asset_id", "phash")
    return {other: ((fingerprint.phash ^ code) & MASK64).bit_count() for other, code in rows}


def _pairs_with(
    fingerprint: Fingerprint, matches: dict[int, int]
) -> dict[tuple[int, int], tuple[int, int]]:
    dhashes = dict(Fingerprint.objects.filter(asset__in=matches).values_list("asset_id", "dhash"))
    return {
        _pair(fingerprint.asset_id, other): (
            distance,
            ((fingerprint.dhash ^ dhashes[other]) & MASK64).bit_count(),
        )
        for other, distance in matches.items()
    }


def _near_pairs(
    fingerprint: Fingerprint, *, own_variants: bool = True
) -> dict[tuple[int, int], tuple[int, int]]:
    matches = candidate_lookup(fingerprint=fingerprint, own_variants=own_variants)
    return _pairs_with(fingerprint, matches)


def own_variant_pairs(*, fingerprints: list[Fingerprint]) -> dict[tuple[int, int], tuple[int, int]]:
    """The direction the ingest check leaves out, for many fingerprints at once.

    Their variant hashes against every searchable main hash, joined in memory (the
    report's join, dedup.mih.cross_pairs) instead of one index lookup per variant.
    """
    from dedup.report import fingerprint_arrays

    owners = [f for f in fingerprints if not f.error and not f.low_information]
    rows = FingerprintVariant.objects.filter(fingerprint__in=owners).values_list(
        "asset_id", "phash"
    )
    owner_ids = np.array([a for a, _ in rows], dtype=np.int64)
    codes = np.array([c for _, c in rows], dtype=np.int64).view(np.uint64)
    if not owner_ids.size:
        return {}
    ids, phash, _dhash = fingerprint_arrays()
    cross = mih.cross_pairs(
        queries=codes, query_ids=owner_ids, codes=phash, code_ids=ids, k=variant_distance()
    )
    matches: dict[int, set[int]] = {}
    for owner, other in zip(cross.id_a.tolist(), cross.id_b.tolist(), strict=True):
        if owner != other:
            matches.setdefault(owner, set()).add(other)
    pairs = {}
    by_asset = {f.asset_id: f for f in owners}
    for owner, others in matches.items():
        fingerprint = by_asset[owner]
        live = Fingerprint.objects.filter(
            asset__in=Asset.objects.holding_bytes().filter(pk__in=others),
            error="",
            low_information=False,
        ).values_list("asset_id", "phash")
        distances = {o: ((fingerprint.phash ^ c) & MASK64).bit_count() for o, c in live}
        pairs.update(_pairs_with(fingerprint, distances))
    return pairs


def fingerprint_and_flag(
    *,
    asset: Asset,
    fingerprint: ImageFingerprint | None,
    error: str = "",
    found_by: str,
    actor=SYSTEM,
) -> FingerprintOutcome:
    """Store the fingerprint, look it up in the index and flag every near match found.

    Three short steps, none holding a lock while files are decoded: store the fingerprint
    (its own transaction), judge the near matches (no transaction), record the pairs.
    """
    stored = fingerprint_store(asset=asset, fingerprint=fingerprint, error=error, actor=actor)
    pairs = _near_pairs(stored, own_variants=False)
    candidates = candidates_record(pairs=pairs, found_by=found_by, actor=actor)
    return FingerprintOutcome(stored, candidates)


def asset_fingerprint(*, asset: Asset, found_by: str = "backfill", actor=SYSTEM):
    """Compute the asset's fingerprint from its stored bytes, store it and flag matches."""
    try:
        with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as fp:
            fingerprint, error = fingerprint_image(fp=fp), ""
    except ImageDecodeError as exc:
        fingerprint, error = None, str(exc)
    return fingerprint_and_flag(
        asset=asset, fingerprint=fingerprint, error=error, found_by=found_by, actor=actor
    )


def _high_water() -> int:
    return Fingerprint.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def scan_record(*, report: dict, parameters: dict, actor=SYSTEM) -> ScanRun:
    """Put a report's pairs into the review queue and keep the run's summary."""
    pairs = {
        (row["a"]["id"], row["b"]["id"]): (row["distances"]["phash"], row["distances"]["dhash"])
        for row in report["pairs"]
    }
    judged = candidates_judge(pairs=pairs)
    with audited():
        created = candidates_store(candidates=judged, found_by="scan", actor=actor)
        run = ScanRun.objects.create(
            parameters=parameters,
            recorded=True,
            finished_at=timezone.now(),
            summary={**report["summary"], "recorded_new_pairs": len(created)},
            high_water_fingerprint_id=_high_water(),
        )
        audit_record(
            actor=actor,
            verb="scan.recorded",
            obj=run,
            after={"pairs": len(pairs), "new_pairs": len(created), **parameters},
        )
    return run


# Fingerprints one claim of the rolling scan covers. Each chunk is looked up, judged and
# recorded on its own (minutes at most, at millions of fingerprints), so several workers
# share a backlog chunk by chunk and a worker that dies costs one chunk, not the backlog.
SCAN_CHUNK = 1000
# A claim still unfinished after this long belongs to a worker that died (django-q2 ends
# a task after 600 s): the next scan takes it over.
SCAN_LEASE = timedelta(minutes=10)
# A scan claims no further chunk after this long, so its task ends within django-q2's
# timeout; the next scheduled scan goes on where it stopped.
SCAN_BUDGET = timedelta(minutes=5)
_SCAN_CLAIMS = "keepsake.dedup.scan_incremental"


def _scan_claims_lock() -> None:
    # Claims are made one at a time, so each begins where the last one ended. SQLite
    # serialises write transactions already (BEGIN IMMEDIATE, config.settings).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_SCAN_CLAIMS])


@transaction.atomic
def _scan_claim(*, chunk: int) -> ScanRun:
    """Claim fingerprints for one rolling-scan worker: a dead worker's claim first, else
    the next chunk after every claim made so far (an empty one when nothing is new)."""
    _scan_claims_lock()
    now = timezone.now()
    runs = ScanRun.objects.filter(incremental=True)
    abandoned = (
        runs.filter(finished_at__isnull=True, started_at__lt=now - SCAN_LEASE)
        .order_by("pk")
        .first()
    )
    if abandoned is not None:
        abandoned.started_at = now
        abandoned.save(update_fields=["started_at"])
        return abandoned
    since = runs.aggregate(top=Max("high_water_fingerprint_id"))["top"] or 0
    ids = Fingerprint.objects.filter(pk__gt=since).order_by("pk").values_list("pk", flat=True)
    last = list(ids[:chunk])[-1:]
    return ScanRun.objects.create(
        incremental=True,
        started_at=now,
        parameters={
            "since_fingerprint": since,
            "k": verify_distance(),
            "variant_k": variant_distance(),
        },
        high_water_fingerprint_id=last[0] if last else since,
    )


def _scan_pairs(run: ScanRun) -> tuple[dict[tuple[int, int], tuple[int, int]], int]:
    """The candidate rule applied to every fingerprint of the claim: (pairs, fingerprints)."""
    fresh = Fingerprint.objects.filter(
        pk__gt=run.parameters["since_fingerprint"], pk__lte=run.high_water_fingerprint_id
    ).order_by("pk")
    pairs, seen = {}, []
    for fingerprint in fresh.iterator(chunk_size=2000):
        pairs.update(_near_pairs(fingerprint, own_variants=False))
        seen.append(fingerprint)
    pairs.update(own_variant_pairs(fingerprints=seen))
    return pairs, len(seen)


@audited
def _scan_finish(
    *, run: ScanRun, judged: list[DuplicateCandidate], pairs: int, checked: int, actor
) -> ScanRun | None:
    """Record the claim's candidates and close it; None when another scan took it over."""
    claimed_at = run.started_at
    run = ScanRun.objects.select_for_update(no_key=True).get(pk=run.pk)
    if run.finished_at is not None or run.started_at != claimed_at:
        return None  # this worker outlived its lease: the claim's new owner records it
    created = candidates_store(candidates=judged, found_by="rolling-scan", actor=actor)
    run.recorded, run.finished_at = True, timezone.now()
    run.summary = {"fingerprints": checked, "pairs": pairs, "new_pairs": len(created)}
    run.save(update_fields=["recorded", "finished_at", "summary"])
    audit_record(actor=actor, verb="scan.incremental", obj=run, after=run.summary)
    return run


def scan_incremental(*, actor=SYSTEM, chunk: int = SCAN_CHUNK) -> ScanRun:
    """Look up every fingerprint added since the last rolling scan and flag its matches.

    The ingest already checks each new file with the candidate rule (candidate_lookup),
    but two near duplicates ingested at the same moment cannot see each other before they
    commit, and the ingest leaves one direction of the variant search out. This sweep
    applies the whole rule to every new fingerprint, a claimed chunk at a time, so scans
    running at once (several workers, a scan outlasting its schedule) never scan the same
    fingerprint twice. Returns the last chunk's run.
    """
    deadline = timezone.now() + SCAN_BUDGET
    while True:
        run = _scan_claim(chunk=chunk)
        pairs, checked = _scan_pairs(run)
        # Judged outside any transaction: the judgement reads files.
        judged = candidates_judge(pairs=pairs)
        finished = _scan_finish(
            run=run, judged=judged, pairs=len(pairs), checked=checked, actor=actor
        )
        run = finished or run
        if checked < chunk or timezone.now() >= deadline:
            return run
