"""python manage.py ingest PATH [PATH ...] --collection NAME [--metadata FILE.csv] [--published]"""

import os
import sys
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from archive.errors import ArchiveError
from archive.metadata import metadata_table_read
from archive.services import (
    IngestOutcome,
    IngestStatus,
    asset_ingest_path,
    collection_get_or_create,
    ingest_rejection_record,
)


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


class Command(BaseCommand):
    help = (
        "Ingest image files or folders (recursively) into a collection. Bytes already held "
        "are not stored again; unreadable or invalid files are recorded with a reason and "
        "the batch goes on."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
        parser.add_argument("--collection", required=True, help="collection (created if new)")
        parser.add_argument("--metadata", metavar="FILE.csv", help="catalogue metadata CSV")
        parser.add_argument(
            "--published", action="store_true", help="mark the new catalogue entries published"
        )
        parser.add_argument("--user", help="username recorded as the actor (default: system)")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, **options):
        actor = self._actor(options["user"])
        try:
            table = metadata_table_read(path=options["metadata"]) if options["metadata"] else None
            collection = collection_get_or_create(name=options["collection"], actor=actor)
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        files, hidden = files_under(options["paths"])
        counts, problems = Counter(), []
        progress = tqdm(
            files,
            unit="file",
            desc="ingest",
            disable=options["no_progress"] or None,
            file=sys.stderr,
        )
        for path in progress:
            outcome = self._ingest_one(path, collection, actor, table, options["published"])
            counts[outcome.status] += 1
            if outcome.status == IngestStatus.REJECTED:
                problems.append(outcome)
        self._summary(counts, problems, hidden)

    def _actor(self, username):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user called {username!r}.") from exc

    def _ingest_one(self, path, collection, actor, table, published) -> IngestOutcome:
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
                published=published,
            )
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            reason = f"{type(exc).__name__}: {exc}"
            ingest_rejection_record(collection=collection, path=path, reason=reason, actor=actor)
            return IngestOutcome(IngestStatus.REJECTED, path, reason=reason)

    def _summary(self, counts, problems, hidden):
        held = counts[IngestStatus.ATTACHED] + counts[IngestStatus.UNCHANGED]
        self.stdout.write(
            f"new: {counts[IngestStatus.NEW]}, already held: {held} "
            f"(new source attached: {counts[IngestStatus.ATTACHED]}, "
            f"unchanged: {counts[IngestStatus.UNCHANGED]}), errors: {len(problems)}"
            + (f", hidden files skipped: {hidden}" if hidden else "")
        )
        for outcome in problems:
            self.stdout.write(self.style.WARNING(f"  {outcome.path}: {outcome.reason}"))
