"""python manage.py export_audit — stream a filtered audit export and its manifest to a file."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from archive.audit_export import (
    FORMATS,
    audit_bundle_write,
    audit_export_filter_parse,
    audit_export_to_file,
)
from archive.errors import ArchiveError


class Command(BaseCommand):
    help = (
        "Export audit events (CSV or JSON lines) up to the current chain head, streamed, "
        "and write FILE.manifest.json next to the output (filters, row count, chain head, "
        "SHA-256) so the recipient can verify the export alone with verify_audit --file. "
        "An --output ending in .zip writes one bundle instead: the events, a stub for each "
        "event the filters left out, an inclusion proof per event and the signed "
        "checkpoint, which archive/verifier.py checks with the archive's public key alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", default="", help="ISO date or date-time, inclusive")
        parser.add_argument("--until", default="", help="ISO date or date-time, exclusive")
        parser.add_argument("--actor", default="", help="user name as recorded in the trail")
        parser.add_argument(
            "--object", default="", help="object type (archive.asset) or type:id (archive.asset:7)"
        )
        parser.add_argument("--verb", default="", help='a verb, or a prefix ending in "*"')
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument("--user", default="", help="who is exporting (recorded in the trail)")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, **options):
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"no user called {options['user']!r}")
        try:
            filters = audit_export_filter_parse(
                since=options["since"],
                until=options["until"],
                actor=options["actor"],
                obj=options["object"],
                verb=options["verb"],
                strict=True,
            )
            if options["output"].endswith(".zip"):
                return self._bundle(options, filters, actor)
            result, manifest_path = audit_export_to_file(
                path=options["output"],
                filters=filters,
                fmt=options["format"],
                actor=actor,
                chunk_size=options["chunk_size"],
            )
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        span = f"events #{result.first_sequence}–#{result.last_sequence}" if result.rows else "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"exported {result.rows} events ({span}) to {options['output']}; manifest "
                f"{manifest_path}; chain head #{result.head[0]} {result.head[1] or '-'}"
            )
        )

    def _bundle(self, options, filters, actor):
        with open(options["output"], "wb") as fp:
            result = audit_bundle_write(
                fp=fp,
                filters=filters,
                fmt=options["format"],
                actor=actor,
                chunk_size=options["chunk_size"],
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"exported {result.listed} events ({result.withheld} withheld by the filters) "
                f"to {options['output']}; checkpoint #{result.checkpoint.size} "
                f"{result.checkpoint.root_hash}"
            )
        )
