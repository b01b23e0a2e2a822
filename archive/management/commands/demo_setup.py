"""python manage.py demo_setup — admin user, demo photos and their ingest, for the demo."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from archive.demo import demo_images_write
from archive.errors import ArchiveError


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo admin user and print its password, write the demo photos "
        "with generated copies under var/demo-images, and ingest them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--images", default=str(settings.VAR_DIR / "demo-images"))

    def handle(self, *args, **options):
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=options["username"], defaults={"email": "admin@example.org"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        try:
            trees = demo_images_write(folder=Path(options["images"]))
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        for collection, folder in trees.items():
            self.stdout.write(f"ingesting {folder} into {collection!r}")
            call_command(
                "ingest",
                str(folder),
                collection=collection,
                user=user.username,
                published=collection == "Photo desk",
                no_progress=True,
                stdout=self.stdout,
            )
        self.stdout.write(
            self.style.SUCCESS(f"\nAdmin user: {user.username}   password: {password}\n")
        )
