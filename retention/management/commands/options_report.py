"""python manage.py options_report --collection NAME | --campaign NAME [--format text|json]."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.template.defaultfilters import filesizeformat

from archive.errors import ArchiveError
from archive.models import Collection
from retention.campaigns import campaign_get
from retention.options import options_report


class Command(BaseCommand):
    help = (
        "Bytes, objects and estimated monthly cost of a collection or a campaign's scope "
        "under each retention option (keep, move to cold, purge after the window), and what "
        "each would touch that is published, held or under a licence conflict. Changes nothing."
    )

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--collection")
        scope.add_argument("--campaign")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, collection, campaign, format, **options):
        try:
            if collection is not None:
                found = Collection.objects.filter(name=collection).first()
                if found is None:
                    raise ArchiveError(f"No collection called “{collection}”.")
                report = options_report(collection=found)
            else:
                report = options_report(campaign=campaign_get(name_or_id=campaign))
        except ArchiveError as exc:
            raise CommandError(exc.message) from exc
        if format == "json":
            self.stdout.write(json.dumps(report, cls=DjangoJSONEncoder, indent=2))
            return
        currency = report["currency"]
        self.stdout.write(
            f"{report['objects']:,} files, {filesizeformat(report['bytes'])} "
            f"(prices per GB-month: {report['prices_per_gb_month']} {currency})"
        )
        for option in report["options"]:
            t = option["touches"]
            self.stdout.write(
                f"{option['option']:<6} touches {option['objects']:,} files "
                f"({filesizeformat(option['bytes'])}); {option['monthly_cost']:.2f} {currency}"
                f"/month (saves {option['monthly_saving']:.2f}); "
                f"published {t['published']['count']}, "
                f"held (stay) {t['held']['count']}, licence conflict (stay) "
                f"{t['licence_conflict']['count']}, published last copy (stay) "
                f"{t['published_last_copy']['count']}"
            )
