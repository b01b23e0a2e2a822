"""Dedup's judge for the intake gate: what a file not yet stored is a copy of.

Registered on `archive.hooks.intake_judges`. It looks the file's fingerprint (computed
while the file was read) up in the index with the same candidate rule as the ingest-time
check, and judges each near match against the stored asset's bytes with the one
judgement (`files_judge`). It runs outside any transaction: judging decodes files.
"""

from archive.models import Asset
from archive.storage import bytes_open
from dedup.imaging import unsigned64
from dedup.index import VARIANTS, near_lookup
from dedup.judge import asset_side, candidate_keep, file_side, files_judge
from dedup.models import Fingerprint
from dedup.services import MASK64, variant_distance, verify_distance

# A file is compared with at most this many held assets, nearest first.
MAX_MATCHES = 8


def _nearest(fingerprint) -> list[tuple[Asset, int, int]]:
    """Held assets the candidate rule reaches from this file's main hash: within
    verify_distance() of their main hashes, or within variant_distance() of one of their
    variants (turned, mirrored, windows), as at ingest. {asset, main distance, dHash
    distance}, nearest first."""
    found = set(near_lookup(phash=fingerprint.phash, k=verify_distance()))
    found |= set(near_lookup(phash=fingerprint.phash, k=variant_distance(), table=VARIANTS))
    if not found:
        return []
    live = Asset.objects.holding_bytes().filter(pk__in=found).select_related("collection")
    codes = {
        asset_id: (unsigned64(phash), unsigned64(dhash))
        for asset_id, phash, dhash in Fingerprint.objects.filter(
            asset__in=found, error="", low_information=False
        ).values_list("asset_id", "phash", "dhash")
    }
    rows = [
        (
            asset,
            ((fingerprint.phash ^ codes[asset.pk][0]) & MASK64).bit_count(),
            ((fingerprint.dhash ^ codes[asset.pk][1]) & MASK64).bit_count(),
        )
        for asset in live
        if asset.pk in codes
    ]
    rows.sort(key=lambda row: (row[1], row[0].pk))
    return rows[:MAX_MATCHES]


def intake_judge(*, fp, analysis) -> list[dict]:
    """Judge the file in fp against its nearest held assets; the matches worth a decision."""
    fingerprint = (analysis.extras or {}).get("fingerprint") if analysis is not None else None
    if fingerprint is None or fingerprint.low_information:
        return []
    matches = []
    for asset, distance, dhash_distance in _nearest(fingerprint):
        fp.seek(0)
        side = file_side(fp=fp)
        fp.seek(0)
        with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as other:
            # The held asset is side a, the upload side b: reasons read "b is a 50 %
            # downscale of a", as on the compare screen.
            verdict = files_judge(
                side_a=asset_side(asset),
                side_b=side,
                fp_a=other,
                fp_b=fp,
                phash_distance=distance,
                dhash_distance=dhash_distance,
            )
        if not candidate_keep(kind=verdict.kind, phash_distance=distance):
            continue
        matches.append(
            {
                "asset": asset.pk,
                "kind": verdict.kind,
                "reason": verdict.evidence.get("reason", ""),
                "phash_distance": distance,
            }
        )
    return matches
