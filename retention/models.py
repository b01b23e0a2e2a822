"""Retention: policies, quarantine windows, storage moves, disposition and fixity records."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from archive.errors import ArchiveError
from archive.models import SHA256_HEX_LENGTH, Asset, Collection

QUARANTINE_DELETE_MESSAGE = "Quarantine records cannot be deleted; they are the restore window."
DISPOSITION_ITEM_DELETE_MESSAGE = "Disposition items cannot be deleted; they record the decision."


class QuarantineRecordQuerySet(models.QuerySet):
    def delete(self):
        # Bulk deletes bypass Model.delete(); the record is what the guard and restore read.
        raise ArchiveError(QUARANTINE_DELETE_MESSAGE)


class QuarantineRecord(models.Model):
    """An asset's stay in quarantine: why, until when it can be restored, how it ended."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="quarantines")
    reason = models.TextField()
    quarantined_at = models.DateTimeField(default=timezone.now)
    quarantined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    restore_deadline = models.DateTimeField(db_index=True)
    previous_state = models.CharField(max_length=16)
    previous_alias = models.CharField(max_length=16)
    restored_at = models.DateTimeField(null=True, blank=True)
    restored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    purged_at = models.DateTimeField(null=True, blank=True)
    # Set once the deadline reminder went out, so a redelivered task reminds only once.
    reminded_at = models.DateTimeField(null=True, blank=True)

    objects = QuarantineRecordQuerySet.as_manager()

    class Meta:
        ordering = ["restore_deadline", "pk"]
        permissions = [("restore_asset", "Can restore quarantined assets")]
        constraints = [
            # One open quarantine per asset: a second would hide the first one's deadline.
            models.UniqueConstraint(
                fields=["asset"],
                condition=Q(restored_at__isnull=True) & Q(purged_at__isnull=True),
                name="quarantine_one_open_per_asset",
            ),
            models.CheckConstraint(
                condition=Q(restore_deadline__gt=F("quarantined_at")),
                name="quarantine_deadline_after_start",
            ),
            models.CheckConstraint(
                condition=Q(restored_at__isnull=True) | Q(purged_at__isnull=True),
                name="quarantine_restored_or_purged",
            ),
            # Invariant 3: nothing is purged before its restore window ends.
            models.CheckConstraint(
                condition=Q(purged_at__isnull=True) | Q(purged_at__gte=F("restore_deadline")),
                name="quarantine_purged_after_deadline",
            ),
        ]

    def __str__(self):
        return f"{self.asset} quarantined until {self.restore_deadline:%Y-%m-%d}"

    def delete(self, *args, **kwargs):
        raise ArchiveError(QUARANTINE_DELETE_MESSAGE)

    @property
    def is_open(self) -> bool:
        return self.restored_at is None and self.purged_at is None


class RetentionPolicy(models.Model):
    """One version of a retention rule; a change writes a new version and keeps the old one.

    A policy matches assets by role, published or not, replaced (a consolidated duplicate)
    or not, and collection; an empty criterion matches anything. The most specific current
    policy decides tiering and the quarantine window; a keep-forever policy among any of
    the matching ones forbids purging.
    """

    key = models.SlugField(max_length=100, help_text="Stable name shared by every version.")
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    name = models.CharField(max_length=200)
    role = models.CharField(
        max_length=16, blank=True, choices=Asset.Role.choices, help_text="Empty: any role."
    )
    published = models.BooleanField(null=True, blank=True, help_text="Empty: either.")
    replaced = models.BooleanField(
        null=True, blank=True, help_text="Replaced duplicates (consolidated); empty: either."
    )
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    keep_forever = models.BooleanField(default=False)
    cold_after_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Keep hot this many days, then move to cold; empty: never."
    )
    quarantine_window_days = models.PositiveIntegerField(default=30)
    purge_after_window = models.BooleanField(
        default=False, help_text="Purge after the window, once a second person approves."
    )
    reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key", "-version"]
        verbose_name_plural = "retention policies"
        # Versions are never deleted: the old rule stays on the record.
        default_permissions = ("view", "add", "change")
        permissions = [
            ("view_storage_dashboard", "Can view the storage dashboard"),
            ("move_asset", "Can move assets between storage tiers"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="policy_unique_version"),
            models.UniqueConstraint(
                fields=["key"], condition=Q(is_current=True), name="policy_one_current_version"
            ),
            models.CheckConstraint(
                condition=~(Q(keep_forever=True) & Q(purge_after_window=True)),
                name="policy_keep_forever_never_purges",
            ),
            models.CheckConstraint(
                condition=Q(quarantine_window_days__gte=1), name="policy_window_positive"
            ),
            models.CheckConstraint(
                condition=Q(is_current=True) | Q(superseded_at__isnull=False),
                name="policy_superseded_has_time",
            ),
        ]

    def __str__(self):
        return f"{self.name} (v{self.version})"

    @property
    def specificity(self) -> int:
        # Collection beats replaced beats published beats role: the narrower rule wins.
        return (
            8 * (self.collection_id is not None)
            + 4 * (self.replaced is not None)
            + 2 * (self.published is not None)
            + (self.role != "")
        )


class PendingMove(models.Model):
    """One storage move (or byte deletion) in progress, so a crash at any step can resume.

    Steps: started (destination not verified yet), copied (destination verified),
    switched (the asset points at the destination; the source awaits deletion), then done.
    """

    class Kind(models.TextChoices):
        MOVE = "move", "Tier move"
        QUARANTINE = "quarantine", "Quarantine"
        RESTORE = "restore", "Restore"
        PURGE = "purge", "Purge (delete bytes)"

    class Step(models.TextChoices):
        STARTED = "started", "Started"
        COPIED = "copied", "Copied and verified"
        SWITCHED = "switched", "Switched; source awaits deletion"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="pending_moves")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    step = models.CharField(max_length=16, choices=Step.choices, default=Step.STARTED)
    sha256 = models.CharField(max_length=SHA256_HEX_LENGTH)
    from_alias = models.CharField(max_length=16)
    from_key = models.CharField(max_length=512)
    to_alias = models.CharField(max_length=16, blank=True)
    to_key = models.CharField(max_length=512, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # A worker owns the move until then; another resumer leaves it alone meanwhile.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ("view",)
        constraints = [
            # One copy in flight per asset. Switched moves may pile up behind it: each only
            # waits to delete its source, which it does only while nothing points there.
            models.UniqueConstraint(
                fields=["asset"],
                condition=Q(step__in=["started", "copied"]),
                name="pending_move_one_copy_per_asset",
            ),
            models.CheckConstraint(
                condition=Q(kind="purge") | (~Q(to_alias="") & ~Q(to_key="")),
                name="pending_move_has_destination",
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(step__in=["done", "cancelled"]),
                name="pending_move_completed_when_closed",
            ),
        ]

    def __str__(self):
        target = f"{self.to_alias}:{self.to_key}" if self.to_alias else "deletion"
        return f"{self.kind} of asset {self.asset_id} → {target} ({self.step})"

    @property
    def is_open(self) -> bool:
        return self.step not in (self.Step.DONE, self.Step.CANCELLED)


class DispositionRequest(models.Model):
    """A request to purge quarantined assets; a second person approves before execution."""

    assets = models.ManyToManyField(Asset, through="DispositionItem", related_name="+")
    reason = models.TextField()
    # None: filed by the retention job on behalf of the policy.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        default_permissions = ("view",)
        permissions = [
            ("request_disposition", "Can request the disposition (purge) of assets"),
            ("approve_disposition", "Can approve a disposition requested by someone else"),
            ("execute_disposition", "Can execute an approved disposition"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(requested_by__isnull=True)
                | ~Q(approved_by=F("requested_by")),
                name="disposition_requester_is_not_approver",
            ),
            models.CheckConstraint(
                condition=(Q(approved_by__isnull=True) & Q(approved_at__isnull=True))
                | (Q(approved_by__isnull=False) & Q(approved_at__gte=F("requested_at"))),
                name="disposition_approval_complete",
            ),
            models.CheckConstraint(
                condition=Q(executed_at__isnull=True) | Q(approved_at__isnull=False),
                name="disposition_executed_only_when_approved",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="disposition_has_reason"),
        ]

    def __str__(self):
        return f"disposition request {self.pk} ({self.status})"

    @property
    def status(self) -> str:
        if self.executed_at:
            return "executed"
        return "approved" if self.approved_at else "awaiting approval"


class DispositionItemQuerySet(models.QuerySet):
    def delete(self):
        # Bulk deletes bypass Model.delete(); an item is the approval its purge relies on.
        raise ArchiveError(DISPOSITION_ITEM_DELETE_MESSAGE)


class DispositionItem(models.Model):
    """One asset of a disposition request and what happened to it."""

    request = models.ForeignKey(DispositionRequest, on_delete=models.PROTECT, related_name="items")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="disposition_items")
    executed_at = models.DateTimeField(null=True, blank=True)
    # The last refusal (blockers) or the outcome, for the people watching the request.
    outcome = models.TextField(blank=True)

    objects = DispositionItemQuerySet.as_manager()

    class Meta:
        ordering = ["request", "asset"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["request", "asset"], name="disposition_item_unique"),
        ]

    def __str__(self):
        return f"asset {self.asset_id} in request {self.request_id}"

    def delete(self, *args, **kwargs):
        raise ArchiveError(DISPOSITION_ITEM_DELETE_MESSAGE)


class FixityCheck(models.Model):
    """One re-verification of an asset's stored bytes against its recorded SHA-256."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="fixity_checks")
    checked_at = models.DateTimeField(default=timezone.now, db_index=True)
    storage_alias = models.CharField(max_length=16)
    storage_key = models.CharField(max_length=512)
    expected_sha256 = models.CharField(max_length=SHA256_HEX_LENGTH)
    actual_sha256 = models.CharField(max_length=SHA256_HEX_LENGTH, blank=True)
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at", "-pk"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["asset", "-checked_at"], name="fixity_asset_latest")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ok=False) | Q(actual_sha256=F("expected_sha256")),
                name="fixity_ok_means_match",
            ),
        ]

    def __str__(self):
        return f"fixity of asset {self.asset_id}: {'ok' if self.ok else 'FAILED'}"


class Campaign(models.Model):
    """A clean-up campaign: the duplicate pairs of a scope to be resolved by a deadline.

    The scope is one or more collections (an asset belongs to the collection it was first
    ingested into or any collection it arrived from again), optionally narrowed to assets
    ingested within a date range. Its pairs are read through `retention.campaigns.
    campaign_pairs`, which the dedup app implements (retention never imports dedup).
    """

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    collections = models.ManyToManyField(Collection, related_name="+")
    ingested_from = models.DateField(
        null=True, blank=True, help_text="Only assets ingested on or after this day; empty: any."
    )
    ingested_until = models.DateField(
        null=True, blank=True, help_text="Only assets ingested on or before this day; empty: any."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField()
    deadline = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deadline", "name"]
        # Campaigns are never deleted: their daily snapshots are the history of the work.
        default_permissions = ("view", "add", "change")
        constraints = [
            models.CheckConstraint(
                condition=Q(deadline__gte=F("starts_on")), name="campaign_deadline_after_start"
            ),
            models.CheckConstraint(
                condition=Q(ingested_from__isnull=True)
                | Q(ingested_until__isnull=True)
                | Q(ingested_until__gte=F("ingested_from")),
                name="campaign_date_range_ordered",
            ),
        ]

    def __str__(self):
        return self.name

    def delete(self, *args, **kwargs):
        raise ArchiveError("Campaigns cannot be deleted; their snapshots are the record.")


class CampaignSnapshot(models.Model):
    """A campaign's figures as they stood on one day (one row per day, first write wins)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="snapshots")
    day = models.DateField()
    taken_at = models.DateTimeField(default=timezone.now)
    total = models.PositiveIntegerField()
    resolved = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()
    decided_that_day = models.PositiveIntegerField(default=0)
    # by_kind / by_collection / groups, as retention.campaigns.campaign_progress reports them.
    figures = models.JSONField(default=dict)

    class Meta:
        ordering = ["campaign", "day"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(fields=["campaign", "day"], name="campaign_snapshot_per_day"),
            models.CheckConstraint(
                condition=Q(total=F("resolved") + F("remaining")),
                name="campaign_snapshot_adds_up",
            ),
        ]

    def __str__(self):
        return f"{self.campaign} on {self.day:%Y-%m-%d}: {self.remaining} left"


CERTIFICATE_DELETE_MESSAGE = "Certificates of destruction are never deleted or changed."


class DestructionCertificateQuerySet(models.QuerySet):
    def delete(self):
        raise ArchiveError(CERTIFICATE_DELETE_MESSAGE)

    def update(self, **kwargs):
        raise ArchiveError(CERTIFICATE_DELETE_MESSAGE)


class DestructionCertificate(models.Model):
    """What one execution of a disposition destroyed, and what survives of it.

    The JSON document is the certificate; the HTML is the same content for people. Both
    texts are kept byte for byte and their SHA-256 digests are recorded in the audit
    trail (`disposition.certificate_issued`), so a copy can be checked against the log.
    """

    request = models.ForeignKey(
        DispositionRequest, on_delete=models.PROTECT, related_name="certificates"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    asset_count = models.PositiveIntegerField()
    json_text = models.TextField()
    html_text = models.TextField()
    json_sha256 = models.CharField(max_length=SHA256_HEX_LENGTH)
    html_sha256 = models.CharField(max_length=SHA256_HEX_LENGTH)

    objects = DestructionCertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(asset_count__gt=0), name="certificate_not_empty"),
        ]

    def __str__(self):
        return f"certificate of destruction {self.pk} (request {self.request_id})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ArchiveError(CERTIFICATE_DELETE_MESSAGE)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ArchiveError(CERTIFICATE_DELETE_MESSAGE)


class CertifiedItem(models.Model):
    """One purged disposition item and the certificate that records it (exactly one)."""

    certificate = models.ForeignKey(
        DestructionCertificate, on_delete=models.PROTECT, related_name="certified_items"
    )
    item = models.OneToOneField(DispositionItem, on_delete=models.PROTECT, related_name="certified")

    class Meta:
        ordering = ["certificate", "item"]
        default_permissions = ()

    def __str__(self):
        return f"item {self.item_id} in certificate {self.certificate_id}"

    def delete(self, *args, **kwargs):
        raise ArchiveError(CERTIFICATE_DELETE_MESSAGE)
