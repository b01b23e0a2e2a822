"""The duplication report: read-only, built from the fingerprints the database holds.

The report's JSON shape is documented in docs/report-format.md; other tools read it, so
fields are only ever added, never renamed.
"""

from collections import defaultdict
from datetime import datetime

import numpy as np
from django.db.models import Count
from django.utils import timezone

from archive.models import Asset, AssetSource
from dedup import mih
from dedup.judge import candidate_keep, pair_judge, pair_judge_records
from dedup.models import DuplicateCandidate, Fingerprint, FingerprintVariant
from dedup.reclaimable import reclaimable_summary
from dedup.selectors import group_components
from dedup.services import near_distance, variant_distance, verify_distance

CHUNK = 50_000
MASK64 = (1 << 64) - 1
# Unrecorded pairs judged from their pixels per report; the rest from their records.
REPORT_PIXEL_BUDGET = 500


def fingerprint_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(asset ids, pHash, dHash) of every searchable fingerprint, streamed in chunks."""
    rows = (
        Fingerprint.objects.filter(error="", low_information=False)
        .exclude(asset__state=Asset.State.PURGED)
        .order_by("asset_id")
        .values_list("asset_id", "phash", "dhash")
    )
    parts = []
    buffer = []
    for row in rows.iterator(chunk_size=CHUNK):
        buffer.append(row)
        if len(buffer) == CHUNK:
            parts.append(np.array(buffer, dtype=np.int64))
            buffer = []
    if buffer:
        parts.append(np.array(buffer, dtype=np.int64))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.view(np.uint64), empty.view(np.uint64)
    table = np.concatenate(parts)
    ids = np.ascontiguousarray(table[:, 0])
    phash = np.ascontiguousarray(table[:, 1]).view(np.uint64)
    dhash = np.ascontiguousarray(table[:, 2]).view(np.uint64)
    return ids, phash, dhash


def variant_arrays(*, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner asset ids, codes) of the variant hashes of the given assets."""
    rows = FingerprintVariant.objects.order_by("asset_id", "pk").values_list("asset_id", "phash")
    owners, codes = [], []
    for owner, code in rows.iterator(chunk_size=CHUNK):
        owners.append(owner)
        codes.append(code)
    owners_a = np.array(owners, dtype=np.int64)
    codes_a = np.array(codes, dtype=np.int64).view(np.uint64)
    keep = np.isin(owners_a, ids)
    return owners_a[keep], codes_a[keep]


def near_pairs(
    *,
    ids: np.ndarray,
    phash: np.ndarray,
    dhash: np.ndarray,
    k: int,
    variant_ids: np.ndarray | None = None,
    variants: np.ndarray | None = None,
    variant_k: int = 0,
) -> list[tuple[int, int, int, int]]:
    """Candidate pairs as (a, b, main phash distance, dhash distance), a < b.

    Every pair within pHash distance k, and (the rest of the candidate rule, see
    dedup.services.candidate_lookup) every pair where one asset's main pHash is within
    variant_k of a variant hash (variant_ids owning variants) of the other.
    """
    found = mih.concat_pairs(chunks=mih.all_pairs(codes=phash, ids=ids, k=k))
    id_a, id_b = found.id_a, found.id_b
    if variants is not None and variants.size and ids.size:
        cross = mih.cross_pairs(
            queries=phash, query_ids=ids, codes=variants, code_ids=variant_ids, k=variant_k
        )
        other = cross.id_a != cross.id_b
        lo = np.minimum(cross.id_a[other], cross.id_b[other])
        hi = np.maximum(cross.id_a[other], cross.id_b[other])
        both = np.unique(np.stack([np.concatenate([id_a, lo]), np.concatenate([id_b, hi])]), axis=1)
        id_a, id_b = both[0], both[1]
    order = np.argsort(ids)
    pos_a = order[np.searchsorted(ids, id_a, sorter=order)]
    pos_b = order[np.searchsorted(ids, id_b, sorter=order)]
    phash_d = mih.popcount64(phash[pos_a] ^ phash[pos_b])
    dhash_d = mih.popcount64(dhash[pos_a] ^ dhash[pos_b])
    return sorted(
        zip(id_a.tolist(), id_b.tolist(), phash_d.tolist(), dhash_d.tolist(), strict=True)
    )


def _selected_ids(*, collection: str | None, since: datetime | None) -> set[int] | None:
    if collection is None and since is None:
        return None
    assets = Asset.objects.holding_bytes()
    if collection is not None:
        assets = assets.filter(sources__collection__name=collection)
    if since is not None:
        assets = assets.filter(ingested_at__gte=since)
    return set(assets.values_list("pk", flat=True))


def _groups(pairs) -> list[list[int]]:
    """Connected groups of (a, b, ...) pairs, largest first, members sorted."""
    return [sorted(c) for c in group_components(pairs=[(a, b) for a, b, *_ in pairs])]


def _side(asset: Asset) -> dict:
    return {
        "id": asset.pk,
        "path": asset.original_path,
        "sha256": asset.sha256,
        "collection": asset.collection.name,
    }


def _exact_groups(selected: set[int] | None) -> list[dict]:
    shared = (
        AssetSource.objects.exclude(asset__state=Asset.State.PURGED)
        .values("asset")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("asset", flat=True)
    )
    if selected is not None:
        shared = [i for i in shared if i in selected]
    sources = defaultdict(list)
    for source in (
        AssetSource.objects.filter(asset__in=list(shared))
        .select_related("collection", "asset")
        .order_by("asset_id", "ingested_at", "pk")
    ):
        sources[source.asset].append({"collection": source.collection.name, "path": source.path})
    return [
        {
            "asset": asset.pk,
            "sha256": asset.sha256,
            "size": asset.size,
            "sources": paths,
            "bytes_avoided": asset.size * (len(paths) - 1),
        }
        for asset, paths in sources.items()
    ]


def _pair_rows(pairs, assets: dict[int, Asset], *, near: int) -> list[dict]:
    # Recorded pairs show the judgement stored when they were flagged (what reviewers
    # see); only unrecorded pairs are judged now, reading both files (about 0.1 s a pair).
    # Pairs within `near` are flagged whatever the judgement says, so past
    # REPORT_PIXEL_BUDGET of them they are judged from the records alone; the others must
    # prove one picture (candidate_keep), as in the queue, so their pixels are always read
    # and those that do not are left out.
    recorded = {
        (c.asset_a_id, c.asset_b_id): c
        for c in DuplicateCandidate.objects.filter(asset_a__in={p[0] for p in pairs}).only(
            "asset_a", "asset_b", "kind", "evidence", "status"
        )
    }
    rows, examined = [], 0
    for a, b, phash_d, dhash_d in pairs:
        candidate = recorded.get((a, b))
        if candidate is not None:
            kind, evidence, status = candidate.kind, candidate.evidence, candidate.status
        else:
            wide = phash_d > near
            judge = pair_judge if wide or examined < REPORT_PIXEL_BUDGET else pair_judge_records
            examined += not wide
            verdict = judge(
                asset_a=assets[a], asset_b=assets[b], phash_distance=phash_d, dhash_distance=dhash_d
            )
            if not candidate_keep(kind=verdict.kind, phash_distance=phash_d, near=near):
                continue
            kind, evidence, status = verdict.kind, verdict.evidence, "unrecorded"
        rows.append(
            {
                "a": _side(assets[a]),
                "b": _side(assets[b]),
                "kind": kind,
                "distances": {"phash": phash_d, "dhash": dhash_d},
                "evidence": evidence,
                "status": status,
            }
        )
    return rows


def _summary(*, pairs, groups, exact, assets, selected, k) -> dict:
    live = Asset.objects.holding_bytes()
    if selected is not None:
        live = live.filter(pk__in=selected)
    by_collection = defaultdict(
        lambda: {"assets": 0, "duplicates": 0, "reclaimable_bytes": 0, "bytes_avoided": 0}
    )
    for name, count in live.values_list("collection__name").annotate(n=Count("pk")):
        by_collection[name]["assets"] = count
    # The one reclaimable figure (dedup.reclaimable): confirmable groups only, the kept
    # copy never, held, reference and published bytes left out and said to be.
    figure = reclaimable_summary(
        pairs=[(row["a"]["id"], row["b"]["id"], row["kind"]) for row in pairs]
    )
    reclaimable = figure["bytes"]
    for i in figure["freed"]:
        by_collection[assets[i].collection.name]["duplicates"] += 1
        by_collection[assets[i].collection.name]["reclaimable_bytes"] += assets[i].size
    for group in exact:
        for source in group["sources"][1:]:
            by_collection[source["collection"]]["bytes_avoided"] += group["size"]
    fingerprints = Fingerprint.objects.filter(asset__in=live)
    sources = AssetSource.objects.filter(asset__in=live).count()
    copies = sum(len(g["sources"]) - 1 for g in exact)
    redundant = copies + sum(len(m) - 1 for m in groups)
    kinds = defaultdict(int)
    for row in pairs:
        kinds[row["kind"]] += 1
    return {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "k": k,
        "assets": live.count(),
        "sources": sources,
        "fingerprinted": fingerprints.filter(error="").count(),
        "low_information": fingerprints.filter(low_information=True).count(),
        "fingerprint_errors": fingerprints.exclude(error="").count(),
        "pairs": len(pairs),
        "pairs_by_kind": dict(sorted(kinds.items())),
        "groups": len(groups),
        "exact_groups": len(exact),
        "exact_copies_avoided": copies,
        "bytes_avoided_by_ingest": sum(g["bytes_avoided"] for g in exact),
        "duplicate_rate": round(redundant / sources, 4) if sources else 0.0,
        "reclaimable_bytes": reclaimable,
        "reclaimable_excluded": figure["excluded"]
        | {"look_alike_pairs": figure["look_alike_pairs"]},
        "reclaimable_excludes": figure["excludes"],
        "by_collection": dict(sorted(by_collection.items())),
    }


def report_build(
    *, k: int | None = None, collection: str | None = None, since: datetime | None = None
) -> dict:
    """Build the duplication report for the whole archive or a selection; writes nothing.

    The pairs are those the review queue takes (the one candidate rule: see
    dedup.services.candidate_lookup and dedup.judge.candidate_keep); k widens or narrows
    the main-hash lookup (default KEEPSAKE_VERIFY_DISTANCE).
    """
    k = verify_distance() if k is None else k
    selected = _selected_ids(collection=collection, since=since)
    ids, phash, dhash = fingerprint_arrays()
    variant_ids, variants = variant_arrays(ids=ids)
    pairs = near_pairs(
        ids=ids,
        phash=phash,
        dhash=dhash,
        k=k,
        variant_ids=variant_ids,
        variants=variants,
        variant_k=variant_distance(),
    )
    if selected is not None:
        pairs = [p for p in pairs if p[0] in selected or p[1] in selected]
    assets = Asset.objects.select_related("collection").in_bulk({i for p in pairs for i in p[:2]})
    rows = _pair_rows(pairs, assets, near=near_distance())
    kept = {(row["a"]["id"], row["b"]["id"]) for row in rows}
    pairs = [p for p in pairs if (p[0], p[1]) in kept]
    groups = _groups(pairs)
    exact = _exact_groups(selected)
    summary = _summary(
        pairs=rows, groups=groups, exact=exact, assets=assets, selected=selected, k=k
    )
    summary["parameters"] = {
        "collection": collection,
        "since": since.isoformat() if since else None,
    }
    return {"summary": summary, "pairs": rows, "groups": groups, "exact_groups": exact}
