"""python manage.py scan_duplicates — the duplication report (read-only unless --record)."""

import os
import sys
from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError

from archive.moments import moment_storable
from dedup.folder_audit import folder_report_build
from dedup.report import report_build
from dedup.report_formats import FORMATS, report_render
from dedup.services import scan_record, verify_distance


def _since(value: str) -> datetime:
    try:
        day = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since {value!r} is not a date (YYYY-MM-DD).") from exc
    if day.tzinfo is None and len(value) <= 10:
        day = datetime.combine(day.date(), time())
    return moment_storable(day)


class Command(BaseCommand):
    help = (
        "Report exact and near-duplicate images. Changes nothing unless --record is given, "
        "which puts the pairs found into the review queue. --path audits a folder that was "
        "never ingested, fingerprinting files in place and writing nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--collection", help="only pairs involving this collection")
        parser.add_argument("--since", help="only pairs involving assets ingested since DATE")
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument("--output", help="write the report here (default: standard output)")
        parser.add_argument(
            "--record", action="store_true", help="put the pairs found into the review queue"
        )
        parser.add_argument("--path", help="audit this folder instead of the archive")
        parser.add_argument(
            "--k",
            type=int,
            default=None,
            help=(
                "pHash distance of the lookup (default: KEEPSAKE_VERIFY_DISTANCE); pairs past "
                "KEEPSAKE_NEAR_DISTANCE are listed only when proven one picture, as in the queue"
            ),
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes that fingerprint files with --path",
        )

    def handle(self, *args, **options):
        k = options["k"] if options["k"] is not None else verify_distance()
        if not 0 <= k <= 64:
            raise CommandError("--k must be between 0 and 64.")
        if options["path"]:
            if options["record"] or options["collection"] or options["since"]:
                raise CommandError(
                    "--path audits a folder; it cannot be combined with "
                    "--record, --collection or --since."
                )
            if not os.path.isdir(options["path"]):
                raise CommandError(f"{options['path']}: not a folder.")
            report = folder_report_build(path=options["path"], k=k, workers=options["workers"])
        else:
            since = _since(options["since"]) if options["since"] else None
            report = report_build(k=k, collection=options["collection"], since=since)
            if options["record"]:
                run = scan_record(
                    report=report,
                    parameters={
                        "k": k,
                        "collection": options["collection"],
                        "since": options["since"],
                    },
                )
                report["summary"]["recorded_new_pairs"] = run.summary["recorded_new_pairs"]
        text = report_render(report=report, fmt=options["format"])
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
            summary = report["summary"]
            sys.stderr.write(
                f"{summary['pairs']} pairs, {summary['groups']} groups, "
                f"duplicate rate {summary['duplicate_rate']:.1%}; "
                f"report written to {options['output']}\n"
            )
        else:
            self.stdout.write(text, ending="")
