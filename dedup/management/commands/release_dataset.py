"""Publish the next release of a clean dataset: OCFL object (default) or BagIt bag."""

import datetime as dt
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from archive.actors import SYSTEM
from archive.errors import ArchiveError
from archive.models import Collection
from archive.moments import MomentOffCalendar, moment_storable
from dedup.models import DatasetRelease
from dedup.releases.services import dataset_release, release_finish


class Command(BaseCommand):
    help = (
        "Publish the clean dataset of the named collections: one canonical file per "
        "confirmed duplicate group and every other record whose licence allows reuse, with "
        "its metadata, licences, an RO-Crate and a release notice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--collection", action="append", default=[], metavar="NAME")
        parser.add_argument(
            "--output",
            metavar="DIR",
            help="the OCFL object's folder, or the folder that receives one bag per release",
        )
        parser.add_argument("--format", choices=DatasetRelease.Format.values, default="ocfl")
        parser.add_argument(
            "--dataset",
            default="",
            help="the dataset's name (default: the collection names joined by ' + ')",
        )
        parser.add_argument("--released-at", help="the release time (ISO 8601; default now)")
        parser.add_argument(
            "--finish",
            action="store_true",
            help="write the files of the dataset's last release again",
        )
        parser.add_argument("--json", action="store_true", help="print the notice as JSON")
        parser.add_argument("--user", help="username recorded as the actor (default: system)")

    def handle(self, *args, **options):
        actor = self._actor(options["user"])
        try:
            if options["finish"]:
                if not options["dataset"]:
                    raise CommandError("Name the dataset to finish with --dataset NAME.")
                release = release_finish(dataset=options["dataset"], actor=actor)
            else:
                release = dataset_release(
                    collections=self._collections(options["collection"]),
                    output=self._output(options["output"]),
                    actor=actor,
                    dataset=options["dataset"],
                    release_format=options["format"],
                    released_at=self._when(options["released_at"]),
                )
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        except OSError as exc:
            raise CommandError(f"The release could not be written: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(release.notice, indent=2, sort_keys=True))
            return
        self._summary(release)

    def _output(self, output):
        if not output:
            raise CommandError("Name the output folder with --output DIR.")
        return output

    def _collections(self, names):
        if not names:
            raise CommandError("Name at least one collection with --collection NAME.")
        found = {c.name: c for c in Collection.objects.filter(name__in=names)}
        missing = [name for name in names if name not in found]
        if missing:
            raise CommandError(f"No collection called {', '.join(map(repr, missing))}.")
        return [found[name] for name in dict.fromkeys(names)]

    def _when(self, text):
        if not text:
            return None
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise CommandError(f"--released-at {text!r} is not an ISO 8601 time.") from exc
        try:
            return moment_storable(when, clamp=False)
        except MomentOffCalendar as exc:
            raise CommandError(
                f"--released-at {text!r} falls outside years 1 to 9999 in UTC."
            ) from exc

    def _actor(self, username):
        if not username:
            return SYSTEM
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user called {username!r}.") from exc

    def _summary(self, release):
        notice = release.notice
        self.stdout.write(
            f"Released {release.dataset} v{release.version} ({release.get_format_display()}) "
            f"to {release.output}: {release.file_count} files, {release.record_count} records.\n"
            f"Manifest SHA-256: {release.manifest_sha256}\n"
            f"Since the previous release: {len(notice['removed_as_duplicates'])} removed as "
            f"duplicates, {len(notice['removed'])} removed otherwise, {len(notice['added'])} "
            f"added, {len(notice['changed_metadata'])} with changed metadata."
        )
        for row in notice["removed_as_duplicates"]:
            self.stdout.write(
                f"  removed {row['path']}: a duplicate of "
                f"{row['canonical_path'] or 'asset %s' % row['canonical']}"
            )
        self.stdout.write(f"Left out: {len(release.left_out)} records.")
        for row in release.left_out:
            self.stdout.write(
                f"  entry {row['entry']} {row['title']!r} ({row['collection']}): {row['reason']}"
            )
