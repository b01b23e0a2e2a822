"""python manage.py campaign_progress NAME [--format text|json|csv] — a campaign's figures."""

import csv
import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from archive.errors import ArchiveError
from retention.campaigns import campaign_get, campaign_progress, campaign_snapshot_take


class Command(BaseCommand):
    help = (
        "Resolved and remaining pairs of a campaign (by kind and collection), decisions per "
        "day, the current rate and the projected finish against the deadline. --snapshot "
        "stores today's figures (once a day), as the daily task does."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="campaign name (or number)")
        parser.add_argument("--format", choices=["text", "json", "csv"], default="text")
        parser.add_argument("--snapshot", action="store_true")

    def handle(self, *args, name, format, snapshot, **options):
        try:
            campaign = campaign_get(name_or_id=name)
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        if snapshot:
            campaign_snapshot_take(campaign=campaign)
        progress = campaign_progress(campaign=campaign)
        if format == "json":
            self.stdout.write(json.dumps(progress, cls=DjangoJSONEncoder, indent=2))
        elif format == "csv":
            self._csv(progress)
        else:
            self._text(progress)

    def _csv(self, progress: dict) -> None:
        writer = csv.writer(self.stdout)
        writer.writerow(["section", "name", "total", "resolved", "remaining"])
        writer.writerow(["all", "", progress["total"], progress["resolved"], progress["remaining"]])
        for row in progress["by_kind"]:
            writer.writerow(["kind", row["kind"], row["total"], row["resolved"], row["remaining"]])
        for row in progress["by_collection"]:
            # A collection name is data: a leading formula character is neutralised.
            name = row["collection"]
            name = "'" + name if name[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else name
            writer.writerow(["collection", name, row["total"], row["resolved"], row["remaining"]])
        groups = progress["groups"]
        writer.writerow(["groups", "", groups["total"], groups["resolved"], groups["remaining"]])
        writer.writerow([])
        writer.writerow(["day", "decisions"])
        for row in progress["decisions_per_day"]:
            writer.writerow([row["day"].isoformat(), row["decisions"]])

    def _text(self, p: dict) -> None:
        c, plan = p["campaign"], p["projection"]
        self.stdout.write(
            f"{c['name']} ({', '.join(c['collections'])}), {c['starts_on']} → deadline "
            f"{c['deadline']}, owner {c['owner']}"
        )
        self.stdout.write(
            f"pairs: {p['total']:,}  resolved: {p['resolved']:,} ({p['percent_resolved']} %)  "
            f"remaining: {p['remaining']:,}  groups open: {p['groups']['remaining']:,}"
        )
        for row in p["by_kind"]:
            self.stdout.write(f"  {row['kind']:<11} {row['resolved']:>8,} / {row['total']:,}")
        for row in p["by_collection"]:
            self.stdout.write(f"  {row['collection']:<30} {row['remaining']:>8,} remaining")
        finish = plan["finish"] or "—"
        self.stdout.write(
            f"rate: {p['rate']['per_day']:,} a day (last {p['rate']['window_days']} days); "
            f"projected finish: {finish}; {plan['status']}"
        )
