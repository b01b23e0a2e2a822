"""python manage.py ingest PATH [PATH ...] --collection NAME [--metadata FILE.csv] [--published]"""

import multiprocessing
import os
import sys
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.errors import ArchiveError
from archive.ingest import (
    IngestAnalysis,
    IngestOutcome,
    IngestStatus,
    asset_ingest_path,
    ingest_analyse,
    ingest_digest,
    ingest_rejection_record,
)
from archive.metadata import metadata_table_read
from archive.models import Asset
from archive.services import collection_get_or_create

BATCH_PER_WORKER = 8


def batched(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def files_under(paths: list[str]) -> tuple[list[str], int]:
    """Every file under the given paths (recursively, sorted), as given; hidden ones skipped."""
    found, hidden = [], 0
    for given in paths:
        if not os.path.isdir(given):
            found.append(given)
            continue
        for folder, subfolders, names in os.walk(given):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    hidden += 1
                else:
                    found.append(os.path.join(folder, name))
    return found, hidden


def _digest_path(path: str) -> IngestAnalysis | None:
    try:
        with open(path, "rb") as fp:
            return ingest_digest(fp=fp)
    except OSError:
        return None  # the ingest itself records why the file is unreadable


def _analyse_path(job: tuple[str, IngestAnalysis]) -> IngestAnalysis | None:
    path, digest = job
    try:
        with open(path, "rb") as fp:
            return ingest_analyse(fp=fp, digest=digest)
    except OSError:
        return None


class Analyser:
    """Reads and decodes files ahead of the database work, in worker processes if asked.

    Digests come first (cheap); files whose bytes are already held are not decoded at all,
    so re-ingesting a tree costs a checksum per file.
    """

    def __init__(self, workers: int):
        self.pool = None
        if workers > 1:
            # Workers never touch the database; they only read files and compute.
            self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.batch_size = max(1, workers) * BATCH_PER_WORKER

    def _map(self, function, items):
        return self.pool.map(function, items) if self.pool else list(map(function, items))

    def analyses(self, paths: list[str]):
        for batch in batched(paths, self.batch_size):
            digests = dict(zip(batch, self._map(_digest_path, batch), strict=True))
            shas = {d.sha256 for d in digests.values() if d is not None}
            held = set(
                Asset.objects.holding_bytes()
                .filter(sha256__in=shas)
                .values_list("sha256", flat=True)
            )
            todo = [(p, d) for p, d in digests.items() if d is not None and d.sha256 not in held]
            analysed = dict(zip([p for p, _ in todo], self._map(_analyse_path, todo), strict=True))
            for path in batch:
                yield path, analysed.get(path) or digests[path]

    def close(self):
        if self.pool:
            self.pool.close()
            self.pool.join()


class Command(BaseCommand):
    help = (
        "Ingest image files or folders (recursively) into a collection. Bytes already held "
        "are not stored again; unreadable or invalid files are recorded with a reason and "
        "the batch goes on. New files are fingerprinted and checked for near duplicates "
        "before the command returns."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
        parser.add_argument("--collection", required=True, help="collection (created if new)")
        parser.add_argument("--metadata", metavar="FILE.csv", help="catalogue metadata CSV")
        parser.add_argument(
            "--published", action="store_true", help="mark the new catalogue entries published"
        )
        parser.add_argument("--user", help="username recorded as the actor (default: system)")
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes that read and fingerprint files (default: one per CPU)",
        )
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, **options):
        actor = self._actor(options["user"])
        try:
            table = metadata_table_read(path=options["metadata"]) if options["metadata"] else None
            collection = collection_get_or_create(name=options["collection"], actor=actor)
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        files, hidden = files_under(options["paths"])
        counts, problems, flagged = Counter(), [], 0
        analyser = Analyser(max(1, options["workers"]))
        progress = tqdm(
            total=len(files),
            unit="file",
            desc="ingest",
            file=sys.stderr,
            disable=options["no_progress"] or None,
        )
        try:
            for path, analysis in analyser.analyses(files):
                outcome = self._ingest_one(path, analysis, collection, actor, table, options)
                counts[outcome.status] += 1
                flagged += len(outcome.findings.get("possible_duplicates", []))
                if outcome.status == IngestStatus.REJECTED:
                    problems.append(outcome)
                progress.update()
        finally:
            progress.close()
            analyser.close()
        self._summary(counts, problems, hidden, flagged)

    def _actor(self, username):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user called {username!r}.") from exc

    def _ingest_one(self, path, analysis, collection, actor, table, options) -> IngestOutcome:
        metadata, error = table.lookup(path) if table else (None, "")
        try:
            if error:
                ingest_rejection_record(collection=collection, path=path, reason=error, actor=actor)
                return IngestOutcome(IngestStatus.REJECTED, path, reason=error)
            return asset_ingest_path(
                path=path,
                collection=collection,
                actor=actor,
                metadata=metadata,
                published=options["published"],
                background=False,
                analysis=analysis,
            )
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            reason = f"{type(exc).__name__}: {exc}"
            ingest_rejection_record(collection=collection, path=path, reason=reason, actor=actor)
            return IngestOutcome(IngestStatus.REJECTED, path, reason=reason)

    def _summary(self, counts, problems, hidden, flagged):
        held = counts[IngestStatus.ATTACHED] + counts[IngestStatus.UNCHANGED]
        self.stdout.write(
            f"new: {counts[IngestStatus.NEW]}, already held: {held} "
            f"(new source attached: {counts[IngestStatus.ATTACHED]}, "
            f"unchanged: {counts[IngestStatus.UNCHANGED]}), errors: {len(problems)}, "
            f"possible duplicates flagged: {flagged}"
            + (f", hidden files skipped: {hidden}" if hidden else "")
        )
        for outcome in problems:
            self.stdout.write(self.style.WARNING(f"  {outcome.path}: {outcome.reason}"))
