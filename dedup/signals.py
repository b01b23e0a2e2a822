"""Receivers: fingerprint new files as they are read, and check them at ingest."""

from django.db import transaction
from django.dispatch import receiver
from django_q.tasks import async_task

from archive.signals import asset_analysed, asset_ingested
from dedup.imaging import ImageDecodeError, fingerprint_image
from dedup.services import fingerprint_and_flag


@receiver(asset_analysed)
def asset_analysed_fingerprint(sender, fp, probe, **kwargs):
    # Runs where the file is read (possibly a worker process): pure computation only.
    try:
        return {"fingerprint": fingerprint_image(fp=fp)}
    except ImageDecodeError as exc:
        return {"fingerprint_error": str(exc)}


@receiver(asset_ingested)
def asset_ingested_check_near(sender, asset, analysis, background, actor, **kwargs):
    extras = analysis.extras if analysis is not None else {}
    if "fingerprint" not in extras and "fingerprint_error" not in extras:
        # Nothing computed while reading: hash later from the stored bytes.
        transaction.on_commit(lambda: async_task("dedup.tasks.asset_fingerprint_task", asset.pk))
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
    return {"possible_duplicates": others}
