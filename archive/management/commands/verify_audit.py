"""python manage.py verify_audit — verify the stored audit chain, or an exported file."""

from django.core.management.base import BaseCommand, CommandError

from archive.audit import audit_verify
from archive.audit_export import audit_export_compare_database, audit_export_verify
from archive.errors import ArchiveError


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain from the first event to the chain head. "
        "Exits 0 when it verifies; otherwise names the first altered, missing or reordered "
        "event and exits 1. With --file, verify an export made by export_audit instead "
        "(each row's hash, the links between consecutive events, and FILE.manifest.json "
        "when present: file digest, row count, chain head)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default="", help="an export written by export_audit")
        parser.add_argument(
            "--manifest", default="", help="the export's manifest (default FILE.manifest.json)"
        )
        parser.add_argument(
            "--against-database",
            action="store_true",
            help="also compare every exported event with the one stored in this database",
        )

    def handle(self, *args, **options):
        if options["file"]:
            return self._verify_file(options)
        report = audit_verify()
        if not report.ok:
            raise CommandError(f"audit trail does NOT verify: {report.problem.message}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail verifies: {report.checked} events, head {report.head_hash or '-'}"
            )
        )

    def _verify_file(self, options):
        path = options["file"]
        try:
            report = audit_export_verify(path=path, manifest_path=options["manifest"] or None)
            if report.ok and options["against_database"]:
                report.problems += audit_export_compare_database(path=path)
        except (OSError, ValueError, KeyError, ArchiveError) as exc:
            raise CommandError(f"export {path} cannot be read: {exc}") from exc
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        if not report.ok:
            raise CommandError(f"export {path} does NOT verify: {report.problems[0]}")
        self.stdout.write(self.style.SUCCESS(f"export verifies: {report.rows} events in {path}"))
