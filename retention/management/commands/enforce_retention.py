"""python manage.py enforce_retention [--dry-run] — carry out (or list) the retention policies."""

from django.core.management.base import BaseCommand

from retention.enforce import retention_enforce


class Command(BaseCommand):
    help = (
        "List every move, quarantine and purge the retention policies ask for now, with each "
        "blocker the guard reports; without --dry-run, carry out the unblocked ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="change nothing")
        parser.add_argument("--limit", type=int, default=None, help="assets per rule")

    def handle(self, *args, dry_run, limit, **options):
        plan = retention_enforce(dry_run=dry_run, limit=limit)
        for step in plan:
            asset = step.asset
            line = (
                f"{step.action.upper():<14} asset {asset.pk} {asset.original_filename} "
                f"{asset.storage_alias} → {step.target} ({step.why})"
            )
            self.stdout.write(line)
            for blocker in step.blockers:
                self.stdout.write(f"    blocked [{blocker.code}]: {blocker.message}")
            if step.outcome and not step.blocked:
                self.stdout.write(f"    {step.outcome}")
        blocked = sum(1 for step in plan if step.blocked)
        mode = "dry run, nothing changed" if dry_run else "done"
        self.stdout.write(f"{len(plan)} planned, {blocked} blocked ({mode})")
