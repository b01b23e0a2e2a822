"""Audit a folder that was never ingested: fingerprint files in place, write nothing."""

import hashlib
import multiprocessing
import os
from collections import Counter, defaultdict

import numpy as np
from django.utils import timezone

from dedup.imaging import ImageDecodeError, fingerprint_image
from dedup.judge import candidate_keep, file_side, files_judge
from dedup.judge.pixels import DECODE_ERRORS
from dedup.report import _groups, near_pairs
from dedup.services import near_distance, variant_distance, verify_distance

CHUNK_SIZE = 1024 * 1024


def _examine(path: str) -> dict:
    try:
        with open(path, "rb") as fp:
            digest, size = hashlib.sha256(), 0
            while chunk := fp.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
            fp.seek(0)
            fingerprint = fingerprint_image(fp=fp)
    except (ImageDecodeError, OSError) as exc:
        return {"path": path, "error": str(exc)}
    return {"path": path, "sha256": digest.hexdigest(), "size": size, "fp": fingerprint}


def _files(root: str) -> list[str]:
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [os.path.join(folder, n) for n in sorted(names) if not n.startswith(".")]
    return found


def _side(row: dict) -> dict:
    return {"id": None, "path": row["path"], "sha256": row["sha256"]}


def _pair_row(a: dict, b: dict, phash_d: int, dhash_d: int) -> dict:
    # The same judgement as for stored assets, reading both files where they lie.
    try:
        with open(a["path"], "rb") as fp_a, open(b["path"], "rb") as fp_b:
            verdict = files_judge(
                side_a=file_side(fp=fp_a),
                side_b=file_side(fp=fp_b),
                fp_a=fp_a,
                fp_b=fp_b,
                phash_distance=phash_d,
                dhash_distance=dhash_d,
            )
        kind, evidence = verdict.kind, verdict.evidence
    except (OSError, *DECODE_ERRORS) as exc:
        kind = "similar"
        evidence = {"distances": {"phash": phash_d, "dhash": dhash_d}, "reason": f"{exc}"}
    return {
        "a": _side(a),
        "b": _side(b),
        "kind": kind,
        "distances": {"phash": phash_d, "dhash": dhash_d},
        "evidence": evidence,
    }


def _exact(rows: list[dict]) -> list[dict]:
    by_sha = defaultdict(list)
    for row in rows:
        by_sha[row["sha256"]].append(row)
    return [
        {
            "asset": None,
            "sha256": sha,
            "size": same[0]["size"],
            "sources": [{"collection": None, "path": r["path"]} for r in same],
            "bytes_avoided": same[0]["size"] * (len(same) - 1),
        }
        for sha, same in by_sha.items()
        if len(same) > 1
    ]


def folder_report_build(*, path: str, k: int | None = None, workers: int = 1) -> dict:
    """The duplication report of a folder tree, in the same shape as the archive's.

    The same candidate rule as the archive's report (k: the main-hash lookup, default
    KEEPSAKE_VERIFY_DISTANCE).
    """
    k = verify_distance() if k is None else k
    files = _files(path)
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            examined = pool.map(_examine, files, chunksize=8)
    else:
        examined = [_examine(f) for f in files]
    good = [r for r in examined if "error" not in r]
    exact = _exact(good)
    # One representative per distinct content: exact copies are reported as groups.
    distinct = list({r["sha256"]: r for r in reversed(good)}.values())[::-1]
    searchable = [r for r in distinct if not r["fp"].low_information]
    ids = np.arange(len(searchable), dtype=np.int64)
    phash = np.array([r["fp"].phash for r in searchable], dtype=np.uint64)
    dhash = np.array([r["fp"].dhash for r in searchable], dtype=np.uint64)
    owners = [(i, code) for i, r in enumerate(searchable) for _name, code in r["fp"].variants]
    pairs = near_pairs(
        ids=ids,
        phash=phash,
        dhash=dhash,
        k=k,
        variant_ids=np.array([i for i, _ in owners], dtype=np.int64),
        variants=np.array([code for _, code in owners], dtype=np.uint64),
        variant_k=variant_distance(),
    )
    near = near_distance()
    judged = [
        (pair, _pair_row(searchable[pair[0]], searchable[pair[1]], *pair[2:])) for pair in pairs
    ]
    kept = [
        (pair, row)
        for pair, row in judged
        if candidate_keep(kind=row["kind"], phash_distance=pair[2], near=near)
    ]
    pairs = [pair for pair, _ in kept]
    rows = [row for _, row in kept]
    groups = [[searchable[i]["path"] for i in g] for g in _groups(pairs)]
    redundant = sum(len(g["sources"]) - 1 for g in exact) + sum(len(g) - 1 for g in groups)
    summary = {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "k": k,
        "parameters": {"path": path},
        "assets": len(distinct),
        "sources": len(good),
        "fingerprinted": len(good),
        "low_information": len(distinct) - len(searchable),
        "fingerprint_errors": len(examined) - len(good),
        "errors": [{"path": r["path"], "error": r["error"]} for r in examined if "error" in r],
        "pairs": len(rows),
        "pairs_by_kind": dict(sorted(Counter(r["kind"] for r in rows).items())),
        "groups": len(groups),
        "exact_groups": len(exact),
        "exact_copies_avoided": sum(len(g["sources"]) - 1 for g in exact),
        "bytes_avoided_by_ingest": sum(g["bytes_avoided"] for g in exact),
        "duplicate_rate": round(redundant / len(good), 4) if good else 0.0,
        "reclaimable_bytes": None,
        "by_collection": {},
    }
    return {"summary": summary, "pairs": rows, "groups": groups, "exact_groups": exact}
