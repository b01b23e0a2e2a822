"""python manage.py move_assets --to cold ID [ID ...] — verified moves between tiers."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from archive.actors import SYSTEM
from archive.errors import ArchiveError
from archive.models import Asset
from retention.moves import asset_move


class Command(BaseCommand):
    help = "Move assets between the hot and cold tiers (copy, verify, switch, delete)."

    def add_arguments(self, parser):
        parser.add_argument("asset_ids", nargs="+", type=int)
        parser.add_argument("--to", required=True, choices=["hot", "cold"])
        parser.add_argument("--user", help="acting user (needs retention.move_asset)")

    def handle(self, *args, asset_ids, to, user, **options):
        actor = SYSTEM
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"No user {user}.")
        failed = 0
        for asset in Asset.objects.filter(pk__in=asset_ids).order_by("pk"):
            try:
                move = asset_move(asset=asset, to_alias=to, actor=actor)
            except ArchiveError as exc:
                failed += 1
                self.stderr.write(f"asset {asset.pk}: {exc.message}")
                continue
            self.stdout.write(
                f"asset {asset.pk}: {'already in ' + to if move is None else 'moved'}"
            )
        if failed:
            raise CommandError(f"{failed} asset(s) not moved.")
