"""python manage.py check_fixity [--batch-size N] — re-verify stored files, report failures."""

from django.core.management.base import BaseCommand

from retention.fixity import fixity_batch_run


class Command(BaseCommand):
    help = "Re-read the least recently checked stored files and record whether they verify."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, batch_size, **options):
        counts = fixity_batch_run(batch_size=batch_size)
        self.stdout.write(
            f"ok: {counts['ok']}, failed: {counts['failed']}, skipped: {counts['skipped']}"
        )
        if counts["failed"]:
            self.stderr.write("Fixity failures recorded; see Retention → Fixity checks.")
