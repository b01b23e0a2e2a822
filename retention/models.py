"""Retention: quarantine records (the restore window) for assets taken out of use."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from archive.models import Asset


class QuarantineRecord(models.Model):
    """An asset's stay in quarantine: why, until when it can be restored, how it ended."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="quarantines")
    reason = models.TextField()
    quarantined_at = models.DateTimeField(default=timezone.now)
    quarantined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    restore_deadline = models.DateTimeField()
    previous_state = models.CharField(max_length=16)
    previous_alias = models.CharField(max_length=16)
    restored_at = models.DateTimeField(null=True, blank=True)
    restored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-quarantined_at", "-pk"]
        permissions = [("restore_asset", "Can restore quarantined assets")]
        constraints = [
            # One open quarantine per asset: a second would hide the first one's deadline.
            models.UniqueConstraint(
                fields=["asset"],
                condition=Q(restored_at__isnull=True),
                name="quarantine_one_open_per_asset",
            ),
            models.CheckConstraint(
                condition=Q(restore_deadline__gt=F("quarantined_at")),
                name="quarantine_deadline_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.asset} quarantined until {self.restore_deadline:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.restored_at is None
