"""python manage.py ingest PATH [PATH ...] --collection NAME [--metadata FILE.csv] [--published]"""

import multiprocessing
import os
import sys
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.errors import ArchiveError
from archive.files import printable_path, regular_file_open, time_limit, tree_walk
from archive.ingest import (
    IngestAnalysis,
    IngestOutcome,
    IngestStatus,
    asset_ingest_path,
    ingest_analyse,
    ingest_digest,
    ingest_rejection_record,
)
from archive.metadata import MetadataTable, entry_metadata_check, metadata_table_read
from archive.models import Asset
from archive.services import collection_get_or_create

BATCH_PER_WORKER = 8


def batched(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _digest_path(job: tuple[str, float]) -> IngestAnalysis | str:
    path, seconds = job
    try:
        with time_limit(seconds), regular_file_open(path) as fp:
            return ingest_digest(fp=fp)
    except Exception as exc:  # noqa: BLE001 - in a worker, anything raised aborts the batch
        return _unreadable(exc)


def _analyse_path(job: tuple[str, IngestAnalysis, float]) -> IngestAnalysis | str:
    path, digest, seconds = job
    try:
        with time_limit(seconds), regular_file_open(path) as fp:
            return ingest_analyse(fp=fp, digest=digest)
    except Exception as exc:  # noqa: BLE001 - in a worker, anything raised aborts the batch
        return _unreadable(exc)


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "the file needs more memory to read than one file may use; refused"
    if isinstance(exc, OSError):
        return f"unreadable file: {exc.strerror or exc}"
    return f"could not be read ({type(exc).__name__}: {str(exc)[:200]})"


def _is_sidecar(path: str) -> bool:
    # Metadata CSVs kept beside the pictures are the catalogue's, never images to store.
    return os.fsencode(path).lower().endswith(b".csv")


class Analyser:
    """Reads and decodes files ahead of the database work, in worker processes if asked.

    Digests come first (cheap); files whose bytes are already held are not decoded at all,
    so re-ingesting a tree costs a checksum per file.
    """

    def __init__(self, workers: int, seconds: float):
        self.pool, self.seconds = None, seconds
        if workers > 1:
            # Workers never touch the database; they only read files and compute.
            self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.batch_size = max(1, workers) * BATCH_PER_WORKER

    def _map(self, function, items):
        return self.pool.map(function, items) if self.pool else list(map(function, items))

    def analyses(self, paths: list[str]):
        for batch in batched(paths, self.batch_size):
            jobs = [(path, self.seconds) for path in batch]
            digests = dict(zip(batch, self._map(_digest_path, jobs), strict=True))
            shas = {d.sha256 for d in digests.values() if isinstance(d, IngestAnalysis)}
            held = set(
                Asset.objects.holding_bytes()
                .filter(sha256__in=shas)
                .values_list("sha256", flat=True)
            )
            todo = [
                (p, d, self.seconds)
                for p, d in digests.items()
                if isinstance(d, IngestAnalysis) and d.sha256 not in held
            ]
            analysed = dict(zip([p for p, *_ in todo], self._map(_analyse_path, todo), strict=True))
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
        parser.add_argument(
            "--follow-symlinks",
            action="store_true",
            help="read symbolic links to regular files inside the given folders "
            "(default: record them as refused; links leading outside are always refused)",
        )
        parser.add_argument(
            "--file-seconds",
            type=float,
            default=120.0,
            help="longest time one file may take to read and decode before it is recorded "
            "as refused (default: 120)",
        )
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, **options):
        actor = self._actor(options["user"])
        try:
            table = metadata_table_read(path=options["metadata"]) if options["metadata"] else None
            collection = collection_get_or_create(name=options["collection"], actor=actor)
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        walked, hidden = tree_walk(options["paths"], follow_symlinks=options["follow_symlinks"])
        entries = [found for found in walked if not _is_sidecar(found.path)]
        files = [found.path for found in entries if not found.problem]
        counts, problems, flagged = Counter(), [], 0
        counts["sidecars"] = len(walked) - len(entries)
        for found in entries:
            if found.problem:
                problems.append(self._refuse(found.shown, found.problem, collection, actor))
                counts[IngestStatus.REJECTED] += 1
        analyser = Analyser(max(1, options["workers"]), options["file_seconds"])
        progress = tqdm(
            total=len(files),
            unit="file",
            desc="ingest",
            file=sys.stderr,
            disable=options["no_progress"] or None,
        )
        notes = []
        try:
            for path, analysis in analyser.analyses(files):
                outcome, fields = self._ingest_one(
                    path, analysis, collection, actor, table, options
                )
                counts[outcome.status] += 1
                notes += fields
                flagged += len(outcome.findings.get("possible_duplicates", []))
                if outcome.status in (IngestStatus.REJECTED, IngestStatus.HELD):
                    problems.append(outcome)
                progress.update()
        finally:
            progress.close()
            analyser.close()
        self._summary(counts, problems, hidden, flagged)
        if table is not None:
            self._metadata_summary(table, notes, collection, actor)

    def _actor(self, username):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user called {username!r}.") from exc

    def _refuse(self, shown, reason, collection, actor) -> IngestOutcome:
        ingest_rejection_record(collection=collection, path=shown, reason=reason, actor=actor)
        return IngestOutcome(IngestStatus.REJECTED, shown, reason=reason)

    def _ingest_one(self, path, analysis, collection, actor, table, options):
        """Ingest one analysed file; returns its outcome and the metadata fields dropped."""
        shown = printable_path(path)
        if isinstance(analysis, str):
            return self._refuse(shown, analysis, collection, actor), []
        try:
            metadata, fields = self._metadata(shown, analysis, collection, table)
            outcome = asset_ingest_path(
                path=path,
                collection=collection,
                actor=actor,
                metadata=metadata,
                published=options["published"],
                background=False,
                analysis=analysis,
            )
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            return self._refuse(shown, f"{type(exc).__name__}: {exc}", collection, actor), []
        if outcome.status not in (IngestStatus.NEW, IngestStatus.ATTACHED):
            return outcome, []
        for reason in fields:
            # Recorded against the stored file's bytes; a second run finds it and files
            # nothing new (ingest_rejection_record matches path, reason and bytes).
            ingest_rejection_record(
                collection=collection,
                path=shown,
                reason=reason,
                actor=actor,
                size=analysis.size,
                sha256=analysis.sha256,
            )
        return outcome, [(shown, reason) for reason in fields]

    def _metadata(self, shown, analysis, collection, table: MetadataTable | None):
        """The row's metadata with every refused field dropped, and why each was."""
        row = table.lookup(shown) if table else None
        if row is None:
            return None, []
        held_here = (
            Asset.objects.holding_bytes()
            .filter(sha256=analysis.sha256, sources__collection=collection, sources__path=shown)
            .exists()
        )
        if held_here:
            # Ingested from this very path before: the row was applied then, and checking
            # it again would call its accession number taken (by that entry).
            return None, []
        metadata, refused = entry_metadata_check(metadata=row.metadata)
        prefix = f"metadata row {row.number}: "
        suffix = "; the field was left empty and the image stored"
        return metadata, [prefix + problem + suffix for problem in (*row.problems, *refused)]

    def _metadata_summary(self, table: MetadataTable, notes, collection, actor):
        unmatched = table.unmatched()
        for row in unmatched:
            reason = f"metadata row {row.number} of {table.name}: matches no file in this ingest"
            ingest_rejection_record(collection=collection, path=row.key, reason=reason, actor=actor)
        self.stdout.write(
            f"metadata: fields rejected: {len(notes)}, rows matching no file: "
            f"{len(unmatched)}, rows not used: {len(table.notes)}"
        )
        for shown, reason in notes:
            self.stdout.write(self.style.WARNING(f"  {shown}: {reason}"))
        for row in unmatched:
            self.stdout.write(
                self.style.WARNING(
                    f"  {row.key}: {table.name} row {row.number} matches no file; not used"
                )
            )
        for note in table.notes:
            self.stdout.write(self.style.WARNING(f"  {note}"))

    def _summary(self, counts, problems, hidden, flagged):
        held = counts[IngestStatus.ATTACHED] + counts[IngestStatus.UNCHANGED]
        gated = counts[IngestStatus.HELD]
        errors = len(problems) - gated
        self.stdout.write(
            f"new: {counts[IngestStatus.NEW]}, already held: {held} "
            f"(new source attached: {counts[IngestStatus.ATTACHED]}, "
            f"unchanged: {counts[IngestStatus.UNCHANGED]}), errors: {errors}, "
            f"possible duplicates flagged: {flagged}"
            + (f", held at the intake gate for a curator: {gated}" if gated else "")
            + (f", hidden files skipped: {hidden}" if hidden else "")
            + (f", metadata sidecars skipped: {counts['sidecars']}" if counts["sidecars"] else "")
        )
        for outcome in problems:
            self.stdout.write(self.style.WARNING(f"  {outcome.path}: {outcome.reason}"))
