"""python manage.py setup_roles — create the role groups with exactly their permissions."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from archive.errors import ArchiveError
from archive.roles import roles_setup


class Command(BaseCommand):
    help = (
        "Create the groups Archivist, Licensing, Compliance and Operator (plus roles other "
        "apps declare) and give each exactly the permissions its job needs. Safe to run "
        "again: permissions granted by hand are taken away. Run after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", default="", help="who is running it (recorded in the trail)")
        parser.add_argument(
            "--strict", action="store_true", help="fail when a named permission does not exist"
        )

    def handle(self, *args, **options):
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"no user called {options['user']!r}")
        try:
            report = roles_setup(actor=actor, strict=options["strict"])
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        for role, names in sorted(report.missing.items()):
            self.stderr.write(f"{role}: skipped, no such permission: {', '.join(names)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"roles ready; created: {', '.join(report.created) or 'none'}; "
                f"permissions changed: {', '.join(report.changed) or 'none'}"
            )
        )
