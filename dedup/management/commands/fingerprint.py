"""python manage.py fingerprint — backfill fingerprints that are missing or out of date."""

import multiprocessing
import os
import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from archive.storage import bytes_open
from dedup.imaging import ImageDecodeError, fingerprint_image
from dedup.selectors import assets_lacking_fingerprint
from dedup.services import fingerprint_and_flag

BATCH = 64


def _compute(job: tuple[str, str]):
    alias, key = job
    try:
        with bytes_open(alias=alias, key=key) as fp:
            return fingerprint_image(fp=fp), ""
    except (ImageDecodeError, OSError) as exc:
        return None, str(exc)


class Command(BaseCommand):
    help = (
        "Fingerprint every live asset that has no fingerprint or one made with another "
        "hash recipe (library versions change hashes), and flag the near duplicates found."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retry-errors",
            action="store_true",
            help="also retry assets whose fingerprint failed before",
        )
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        ids = list(
            assets_lacking_fingerprint(retry_errors=options["retry_errors"]).values_list(
                "pk", flat=True
            )
        )
        workers = max(1, options["workers"])
        pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
        done = failed = flagged = 0
        progress = tqdm(
            total=len(ids),
            unit="asset",
            desc="fingerprint",
            file=sys.stderr,
            disable=options["no_progress"] or None,
        )
        try:
            for start in range(0, len(ids), BATCH):
                assets = list(
                    assets_lacking_fingerprint(retry_errors=options["retry_errors"]).filter(
                        pk__in=ids[start : start + BATCH]
                    )
                )
                jobs = [(a.storage_alias, a.storage_key) for a in assets]
                results = pool.map(_compute, jobs) if pool else list(map(_compute, jobs))
                for asset, (fingerprint, error) in zip(assets, results, strict=True):
                    outcome = fingerprint_and_flag(
                        asset=asset, fingerprint=fingerprint, error=error, found_by="backfill"
                    )
                    done, failed = done + 1, failed + bool(error)
                    flagged += len(outcome.candidates)
                progress.update(len(ids[start : start + BATCH]))
        finally:
            progress.close()
            if pool:
                pool.close()
                pool.join()
        self.stdout.write(
            f"fingerprinted: {done - failed}, failed: {failed}, "
            f"possible duplicates flagged: {flagged}"
        )
