"""python manage.py verify_audit — recompute the audit hash chain and name the first bad event."""

from django.core.management.base import BaseCommand, CommandError

from archive.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain from the first event to the chain head. "
        "Exits 0 when it verifies; otherwise names the first altered, missing or reordered "
        "event and exits 1."
    )

    def handle(self, *args, **options):
        report = audit_verify()
        if not report.ok:
            raise CommandError(f"audit trail does NOT verify: {report.problem.message}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail verifies: {report.checked} events, head {report.head_hash or '-'}"
            )
        )
