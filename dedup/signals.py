"""Dedup's implementations of the archive's hooks: fingerprint new files as they are
read, and look each new asset up once it is stored.

Registered in `DedupConfig.ready()` on `archive.hooks.asset_analysers` and
`archive.hooks.asset_stored`. The lookup runs after the asset's transaction committed:
judging a pair decodes both files, which must never happen while the audit chain head
(or any other lock every writer needs) is held.
"""

from django_q.tasks import async_task

from dedup.imaging import ImageDecodeError, fingerprint_image
from dedup.services import fingerprint_and_flag


def asset_analysed_fingerprint(*, fp, probe) -> dict:
    # Runs where the file is read (possibly a worker process): pure computation only.
    try:
        return {"fingerprint": fingerprint_image(fp=fp)}
    except ImageDecodeError as exc:
        return {"fingerprint_error": str(exc)}


def asset_stored_check_near(*, asset, analysis, background, actor) -> dict:
    extras = analysis.extras if analysis is not None else {}
    if "fingerprint" not in extras and "fingerprint_error" not in extras:
        # Nothing computed while reading: hash later from the stored bytes.
        async_task("dedup.tasks.asset_fingerprint_task", asset.pk)
        return {}
    outcome = fingerprint_and_flag(
        asset=asset,
        fingerprint=extras.get("fingerprint"),
        error=extras.get("fingerprint_error", ""),
        found_by="ingest",
        actor=actor,
    )
    others = [
        c.asset_b_id if c.asset_a_id == asset.pk else c.asset_a_id for c in outcome.candidates
    ]
    details = [
        {
            "asset": other,
            "kind": c.kind,
            "reason": (c.evidence or {}).get("reason", ""),
            "phash_distance": c.phash_distance,
        }
        for other, c in zip(others, outcome.candidates, strict=True)
    ]
    return {"possible_duplicates": others, "possible_duplicate_matches": details}
