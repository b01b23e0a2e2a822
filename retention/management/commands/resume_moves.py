"""python manage.py resume_moves — finish storage moves and deletions a crash interrupted."""

from django.core.management.base import BaseCommand

from retention.moves import moves_resume


class Command(BaseCommand):
    help = "Finish every interrupted storage move or byte deletion whose lease has run out."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=200)

    def handle(self, *args, limit, **options):
        counts = moves_resume(limit=limit)
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "nothing to resume"
        self.stdout.write(summary)
