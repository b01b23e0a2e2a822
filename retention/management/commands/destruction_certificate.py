"""python manage.py destruction_certificate ID — print or save a certificate of destruction."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive.actors import SYSTEM
from archive.errors import ArchiveError
from retention.certificates import certificate_check, certificate_get, certificates_issue_missing
from retention.models import DestructionCertificate


class Command(BaseCommand):
    help = (
        "Print a certificate of destruction (JSON, or HTML with --format html), exactly as "
        "issued, or write it to --output; --check compares its SHA-256 digests with the "
        "audit trail; --request N lists a disposition's certificates; --issue-missing "
        "issues certificates a crash left out."
    )

    def add_arguments(self, parser):
        parser.add_argument("id", nargs="?", type=int, help="certificate number")
        parser.add_argument("--format", choices=["json", "html"], default="json")
        parser.add_argument("--output", type=Path, help="write the certificate to this file")
        parser.add_argument("--check", action="store_true", help="verify against the audit trail")
        parser.add_argument("--request", type=int, help="list the certificates of a disposition")
        parser.add_argument("--issue-missing", action="store_true")

    def handle(self, *args, id, format, output, check, request, issue_missing, **options):
        if issue_missing:
            self.stdout.write(f"issued: {certificates_issue_missing(actor=SYSTEM)}")
            return
        if request is not None:
            self._list(request)
            return
        if id is None:
            raise CommandError("Name a certificate number (or --request N, --issue-missing).")
        try:
            certificate = certificate_get(pk=id)
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        if check:
            self._check(certificate)
            return
        text = certificate.json_text if format == "json" else certificate.html_text
        if output:
            # Bytes as issued: the file's SHA-256 is the one in the audit trail.
            output.write_bytes(text.encode("utf-8"))
            self.stderr.write(f"wrote {output}")
        else:
            self.stdout.write(text, ending="")

    def _list(self, request_id: int) -> None:
        rows = DestructionCertificate.objects.filter(request_id=request_id).order_by("pk")
        if not rows:
            raise CommandError(f"Disposition request {request_id} has no certificate.")
        for row in rows:
            self.stdout.write(
                f"certificate {row.pk}: {row.asset_count} asset(s), "
                f"issued {row.issued_at:%Y-%m-%d %H:%M}, json sha256 {row.json_sha256}"
            )

    def _check(self, certificate) -> None:
        result = certificate_check(certificate=certificate)
        checkpoint = (
            f"in signed checkpoint #{result['checkpoint']}"
            if result["checkpoint"]
            else "no signed checkpoint covers it yet"
        )
        texts = "match" if result["texts_match_digests"] else "DO NOT match"
        recorded = "records them" if result["digests_match_audit_event"] else "DOES NOT record them"
        self.stdout.write(
            f"certificate {certificate.pk}: digests {texts} the texts; "
            f"audit event #{result['audit_event']} {recorded}; {checkpoint}"
        )
        if not result["ok"]:
            raise CommandError("the certificate does not check")
