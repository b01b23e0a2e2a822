"""python manage.py verify_audit — verify the stored audit chain, or an exported file."""

import zipfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive import verifier
from archive.audit import audit_verify
from archive.audit_export import (
    audit_bundle_verify,
    audit_export_compare_database,
    audit_export_verify,
)
from archive.checkpoints import checkpoint_log_verify
from archive.errors import ArchiveError

KEY = "public_key"


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain from the first event to the chain head, and "
        "the latest signed checkpoint's Merkle root from the stored events. "
        "Exits 0 when it verifies; otherwise names the first altered, missing or reordered "
        "event and exits 1. With --file, verify an export made by export_audit instead "
        "(each row's hash, the links between consecutive events, and FILE.manifest.json "
        "when present: file digest, row count, chain head). An export bundle (.zip) is checked "
        "by archive/verifier.py's code: proofs, the signed checkpoint, the timestamp."
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
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            help="a bundle: the archive's public key (PEM; default: this archive's own keys)",
        )
        parser.add_argument(
            "--tsa-cert", action="append", default=[], help="a bundle: a trusted TSA certificate"
        )

    def handle(self, *args, **options):
        if options["file"]:
            return self._verify_file(options)
        report = audit_verify()
        if not report.ok:
            raise CommandError(f"audit trail does NOT verify: {report.problem.message}")
        if problem := checkpoint_log_verify():
            raise CommandError(f"audit trail does NOT verify: {problem}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail verifies: {report.checked} events, head {report.head_hash or '-'}"
            )
        )

    def _verify_bundle(self, options):
        path = options["file"]
        try:
            keys = [verifier.public_key_load(Path(p).read_bytes(), p) for p in options[KEY]]
            certs = [verifier._load_cert(p) for p in options["tsa_cert"]]
            report = audit_bundle_verify(path=path, public_keys=keys, tsa_certs=certs)
            if report.ok and options["against_database"]:
                report.problems += audit_export_compare_database(path=path)
                report.ok = not report.problems
        except (OSError, ValueError, verifier.VerifyError, ArchiveError) as exc:
            raise CommandError(f"export {path} cannot be read: {exc}") from exc
        if not report.ok:
            raise CommandError(f"export {path} does NOT verify: {report.problems[0]}")
        for line in verifier.report_lines(report):
            self.stdout.write(line)

    def _verify_file(self, options):
        path = options["file"]
        if zipfile.is_zipfile(path):
            return self._verify_bundle(options)
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
