"""List the uploads waiting at the intake gate, or carry out a curator's choice for one."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from archive.errors import ArchiveError
from archive.intake import intake_decide
from archive.models import IntakeItem


class Command(BaseCommand):
    help = (
        "List uploads waiting at the intake gate (what each looks like), or decide one: "
        "--decide ID --choice use_existing|add_record|store --reason TEXT --user NAME."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            default="waiting",
            choices=[*IntakeItem.Status.values, "all"],
            help="which items to list (default: waiting)",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--decide", type=int, metavar="ID", help="the intake item to decide")
        parser.add_argument("--choice", choices=IntakeItem.Choice.values)
        parser.add_argument("--target", type=int, help="the matched asset (default: best match)")
        parser.add_argument("--reason", help="why; recorded in the audit trail")
        parser.add_argument("--user", help="the curator deciding (a user with the permission)")

    def handle(self, *args, **options):
        if options["decide"] is not None:
            return self._decide(options)
        items = IntakeItem.objects.select_related("collection").order_by("created_at", "pk")
        if options["status"] != "all":
            items = items.filter(status=options["status"])
        rows = [self._row(item) for item in items]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            self.stdout.write(f"No uploads {options['status']} at the intake gate.")
        for row in rows:
            best = row["matches"][0] if row["matches"] else None
            looks = (
                f"looks like asset {best['asset']} ({best['kind']}: {best['reason']})"
                if best
                else "no match recorded"
            )
            self.stdout.write(
                f"#{row['id']} {row['collection']}: {row['path']} "
                f"({row['size_shown']}, {row['status']}) {looks}"
            )

    def _row(self, item: IntakeItem) -> dict:
        return {
            "id": item.pk,
            "collection": item.collection.name,
            "path": item.path,
            "size": item.size,
            "size_shown": filesizeformat(item.size),
            "status": item.status,
            "via": item.via,
            "matches": item.matches,
            "created_at": item.created_at.isoformat(),
        }

    def _decide(self, options):
        missing = [name for name in ("choice", "reason", "user") if not options[name]]
        if missing:
            raise CommandError("--decide needs " + ", ".join(f"--{name}" for name in missing))
        try:
            user = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user called {options['user']!r}.") from exc
        try:
            item = IntakeItem.objects.get(pk=options["decide"])
        except IntakeItem.DoesNotExist as exc:
            raise CommandError(f"No intake item {options['decide']}.") from exc
        try:
            decision = intake_decide(
                item=item,
                choice=options["choice"],
                reason=options["reason"],
                target=options["target"],
                actor=user,
            )
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(decision.message))
