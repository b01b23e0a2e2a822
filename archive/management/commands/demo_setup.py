"""python manage.py demo_setup — roles, one user per role, demo photos, their ingest, and a
little work already done (a consolidation, a disposition request, a legal hold)."""

import os
import secrets
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from archive.demo import demo_images_write
from archive.errors import ArchiveError
from archive.holds import legal_hold_place
from archive.models import Asset, Collection, LegalHold

# One demo user per role of setup_roles; the shell variable holds its API token.
DEMO_USERS = [
    ("curator", "Archivist", "CURATOR"),
    ("licensing", "Licensing", "LICENSING"),
    ("officer", "Compliance", "OFFICER"),
    ("tablet", "Operator", "TABLET"),
]
HOLD_MATTER = "PERMIT-2024-17"


class Command(BaseCommand):
    help = (
        "Create the roles, the demo admin and one user per role (printing passwords and API "
        "tokens, which also go to var/demo-tokens.sh), write the demo photos under "
        "var/demo-images, ingest them, and do some work: confirm one pair, request its "
        "disposition, place a legal hold."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--images", default=str(settings.VAR_DIR / "demo-images"))
        parser.add_argument("--tokens", default=str(settings.VAR_DIR / "demo-tokens.sh"))

    def handle(self, *args, **options):
        call_command("setup_roles", verbosity=0)
        admin, password = self._person(options["username"], None)
        people = [(self._person(name, group), group, var) for name, group, var in DEMO_USERS]
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
                user=admin.username,
                published=collection == "Photo desk",
                no_progress=True,
                stdout=self.stdout,
            )
        users = {group: user for (user, _), group, _ in people}
        self._work(curator=users["Archivist"], officer=users["Compliance"])
        tokens = self._tokens(people, Path(options["tokens"]))
        self.stdout.write(
            self.style.SUCCESS(f"\nAdmin user: {admin.username}   password: {password}")
        )
        for ((user, secret), group, _var), token in zip(people, tokens, strict=True):
            self.stdout.write(
                f"{group:<11} {user.username:<10} password: {secret}   API token: {token}"
            )
        self.stdout.write(f"API tokens as shell variables: . {options['tokens']}\n")

    def _person(self, username: str, group: str | None):
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.org"}
        )
        user.is_staff = True
        user.is_superuser = group is None
        user.set_password(password)
        user.save()
        if group is not None:
            user.groups.set([Group.objects.get(name=group)])
        return user, password

    def _tokens(self, people, path: Path) -> list[str]:
        from rest_framework.authtoken.models import Token

        tokens = [Token.objects.get_or_create(user=user)[0].key for (user, _), _, _ in people]
        lines = ["# The demo users' API tokens, written by manage.py demo_setup."]
        lines += [f"{var}={token}" for (_, _, var), token in zip(people, tokens, strict=True)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        return tokens

    def _work(self, *, curator, officer) -> None:
        """Work a curator and an officer did already, so those screens are not empty."""
        from retention.purge import disposition_request_create

        candidate_model = apps.get_model("dedup", "DuplicateCandidate")
        original = Asset.objects.filter(original_filename="chelsea.jpg").first()
        web = Asset.objects.filter(original_filename="chelsea-web.jpg").first()
        pair = candidate_model.objects.filter(
            asset_a__in=[original, web], asset_b__in=[original, web], status="pending"
        ).first()
        try:
            if pair is not None:
                self._confirm(pair, original, curator)
                web.refresh_from_db()
                disposition_request_create(
                    assets=[web],
                    reason="Web copy of the photo desk's original; the original is kept.",
                    actor=curator,
                )
            if not LegalHold.objects.filter(matter_reference=HOLD_MATTER).exists():
                legal_hold_place(
                    matter_reference=HOLD_MATTER,
                    reason="Permit appeal: preserve every survey photo of the permit files.",
                    collections=[Collection.objects.get(name="Building & Safety permits")],
                    actor=officer,
                )
        except ArchiveError as exc:
            self.stdout.write(self.style.WARNING(f"demo work skipped: {exc.message}"))

    def _confirm(self, pair, canonical, curator) -> None:
        from dedup.review import candidate_decide

        candidate_decide(
            candidate=pair,
            decision="confirm",
            canonical=canonical,
            reason="a recompressed web copy",
            actor=curator,
        )
