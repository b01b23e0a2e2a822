"""Fingerprints, duplicate candidate pairs and scan runs."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from archive.models import Asset

BAND_COUNT = 4


class Fingerprint(models.Model):
    """The perceptual fingerprint of one asset, with the band columns of the index.

    Hashes are stored as signed 64-bit integers (what every database's bigint holds); the
    four 16-bit bands of the pHash are indexed so a near-duplicate lookup probes a few
    index ranges instead of scanning every row (multi-index hashing).
    """

    asset = models.OneToOneField(Asset, on_delete=models.PROTECT, related_name="fingerprint")
    sha256 = models.CharField(max_length=64, db_index=True)
    phash = models.BigIntegerField(null=True, blank=True)
    dhash = models.BigIntegerField(null=True, blank=True)
    phash_b0 = models.IntegerField(null=True, blank=True)
    phash_b1 = models.IntegerField(null=True, blank=True)
    phash_b2 = models.IntegerField(null=True, blank=True)
    phash_b3 = models.IntegerField(null=True, blank=True)
    low_information = models.BooleanField(default=False)
    # SHA-256 of the decoded, oriented pixels (dedup.imaging.pixel_sha256): assets with the
    # same digest are pixel twins, frozen together by a legal hold (dedup.twins).
    pixel_sha256 = models.CharField(max_length=64, blank=True)
    hash_version = models.CharField(max_length=200)
    error = models.TextField(blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(error="") | Q(pixel_sha256=""),
                name="fingerprint_no_pixel_digest_on_error",
            ),
            # Either hashes or the reason they could not be computed, never both or neither.
            models.CheckConstraint(
                condition=(Q(error="") & Q(phash__isnull=False) & Q(dhash__isnull=False))
                | (~Q(error="") & Q(phash__isnull=True) & Q(dhash__isnull=True)),
                name="fingerprint_hashes_or_error",
            ),
        ]
        # Partial covering indexes: the probe reads the band, the hash and the asset from
        # the index alone (PostgreSQL index-only scans); flat images never enter the index.
        indexes = [
            models.Index(
                fields=[f"phash_b{band}"],
                include=["phash", "asset"],
                condition=Q(low_information=False, error=""),
                name=f"fingerprint_phash_b{band}",
            )
            for band in range(BAND_COUNT)
        ] + [
            # What changed since an in-memory index was loaded (dedup.lookup_memory),
            # read by every lookup it answers.
            models.Index(
                fields=["computed_at"],
                include=["phash", "asset"],
                condition=Q(low_information=False, error=""),
                name="fingerprint_computed_at",
            ),
            # The twins lookup (a subquery of every hold's scope) probes this; files without
            # a digest never enter it.
            models.Index(
                fields=["pixel_sha256"],
                include=["asset"],
                condition=~Q(pixel_sha256=""),
                name="fingerprint_pixel_sha256",
            ),
        ]

    def __str__(self):
        return f"fingerprint of asset {self.asset_id}"


class FingerprintVariant(models.Model):
    """A further pHash of one fingerprinted asset: its pixels turned or mirrored, or a window.

    A copy whose pixels were rotated without an orientation tag, or cropped heavily or to
    another aspect ratio, is far from the original in the main pHash; it is near one of
    these (dedup.imaging.VARIANTS names them). The same four bands are indexed, so the
    lookup at ingest probes them the way it probes the main hash.
    """

    fingerprint = models.ForeignKey(Fingerprint, on_delete=models.CASCADE, related_name="variants")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    variant = models.CharField(max_length=24)
    phash = models.BigIntegerField()
    phash_b0 = models.IntegerField()
    phash_b1 = models.IntegerField()
    phash_b2 = models.IntegerField()
    phash_b3 = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint", "variant"], name="fingerprint_variant_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=[f"phash_b{band}"],
                include=["phash", "asset"],
                name=f"fingerprint_variant_b{band}",
            )
            for band in range(BAND_COUNT)
        ]

    def __str__(self):
        return f"{self.variant} of asset {self.asset_id}"


class DuplicateCandidate(models.Model):
    """An ordered pair of assets that may be duplicates, with the evidence and a decision."""

    class Kind(models.TextChoices):
        EXACT = "exact", "Exact (same bytes)"
        PIXEL = "pixel", "Pixel (same decoded pixels)"
        DERIVATIVE = "derivative", "Derivative (resized, recompressed, converted)"
        SIMILAR = "similar", "Similar (look-alike, different photograph)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        CONFIRMED = "confirmed", "Confirmed duplicate"
        REJECTED = "rejected", "Not a duplicate"
        DEFERRED = "deferred", "Deferred"

    asset_a = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    asset_b = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    phash_distance = models.PositiveSmallIntegerField()
    dhash_distance = models.PositiveSmallIntegerField()
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    found_by = models.CharField(max_length=32, default="scan")
    # The queue's order: surest kinds first. Generated by the database from kind, so it
    # can never disagree with it, and indexed so a queue of 100,000 pairs pages cheaply.
    kind_rank = models.GeneratedField(
        expression=models.Case(
            models.When(kind="exact", then=models.Value(0)),
            models.When(kind="pixel", then=models.Value(1)),
            models.When(kind="derivative", then=models.Value(2)),
            default=models.Value(3),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["kind_rank", "phash_distance", "dhash_distance", "pk"]
        constraints = [
            # Canonical order makes (a, b) and (b, a) the same row, so a pair is stored once
            # and a decision about it is never lost to a re-flag in the other order.
            models.CheckConstraint(
                condition=Q(asset_a__lt=F("asset_b")), name="candidate_pair_ordered"
            ),
            models.UniqueConstraint(fields=["asset_a", "asset_b"], name="candidate_pair_unique"),
            models.CheckConstraint(
                condition=Q(phash_distance__lte=64) & Q(dhash_distance__lte=64),
                name="candidate_distances_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind"], name="candidate_status_kind"),
            models.Index(
                fields=["kind_rank", "phash_distance", "dhash_distance", "id"],
                name="candidate_queue_order",
            ),
            models.Index(
                fields=["status", "kind_rank", "phash_distance", "dhash_distance", "id"],
                name="candidate_open_queue_order",
            ),
            # The open queue (pending or deferred) in review order, whole and by kind: a
            # page is read from the index in order instead of sorting every open pair.
            models.Index(
                fields=["kind_rank", "phash_distance", "dhash_distance", "id"],
                condition=Q(status__in=["pending", "deferred"]),
                name="candidate_open_order",
            ),
            models.Index(
                fields=["kind", "kind_rank", "phash_distance", "dhash_distance", "id"],
                condition=Q(status__in=["pending", "deferred"]),
                name="candidate_open_kind_order",
            ),
            # The queue's state key (see dedup.selectors.queue_state).
            models.Index(fields=["decided_at"], name="candidate_decided_at"),
        ]
        permissions = [("review_duplicates", "Can decide duplicate pairs and consolidate")]

    def __str__(self):
        return f"{self.asset_a_id} ~ {self.asset_b_id} ({self.kind})"

    def other(self, asset_id: int) -> int:
        return self.asset_b_id if asset_id == self.asset_a_id else self.asset_a_id


class Consolidation(models.Model):
    """One confirmed group folded into its canonical asset, with what is needed to undo it.

    `provenance` records where every merged value came from; `snapshot` holds the state of
    every touched row before the change, so an undo within the restore window puts back
    exactly what was there.
    """

    canonical = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    replaced = models.ManyToManyField(Asset, related_name="consolidations_replacing")
    candidates = models.ManyToManyField(DuplicateCandidate, related_name="consolidations")
    provenance = models.JSONField(default=dict)
    snapshot = models.JSONField(default=dict)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["undone_at"], name="consolidation_undone_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(undone_at__isnull=True) | Q(undone_by__isnull=False),
                name="consolidation_undo_records_who",
            ),
        ]

    def __str__(self):
        return f"consolidation {self.pk} into asset {self.canonical_id}"


class ScanRun(models.Model):
    """One duplicate scan: what it looked at, what it found, and whether it recorded pairs."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    recorded = models.BooleanField(default=False)
    incremental = models.BooleanField(default=False)
    # Highest fingerprint id seen: the next incremental scan starts after it.
    high_water_fingerprint_id = models.BigIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self):
        return f"scan {self.pk} at {self.started_at:%Y-%m-%d %H:%M}"


class DatasetRelease(models.Model):
    """One published version of a clean dataset: what went in, what was left out and why.

    The row is the release: every file of it (the OCFL object or the bag, the RO-Crate,
    the notice) is written from this row alone (dedup.releases), so writing it again
    gives the same bytes, and the next release's notice is computed against `items`.
    """

    class Format(models.TextChoices):
        OCFL = "ocfl", "OCFL 1.1 object (one version per release)"
        BAGIT = "bagit", "BagIt bag (one bag per release)"

    dataset = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.OCFL)
    # The collections as named at release time: [{"id": 1, "name": "Permits"}, ...].
    scope = models.JSONField(default=list, blank=True)
    released_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    output = models.CharField(max_length=1024)
    # SHA-256 of the release's manifest: the OCFL inventory.json, or the bag's
    # manifest-sha256.txt; recorded in the audit event of the release.
    manifest_sha256 = models.CharField(max_length=64)
    # Published files: [{"asset", "sha256", "size", "path", "metadata"}], by path.
    items = models.JSONField(default=list, blank=True)
    # Records left out: [{"entry", "title", "asset", "collection", "reason"}].
    left_out = models.JSONField(default=list, blank=True)
    notice = models.JSONField(default=dict, blank=True)
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-version"]
        default_permissions = ("view",)
        permissions = [("publish_release", "Can publish a clean-dataset release")]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="release_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="release_version_positive"),
            models.CheckConstraint(
                condition=Q(format__in=["ocfl", "bagit"]), name="release_format_valid"
            ),
        ]

    def __str__(self):
        return f"{self.dataset} v{self.version}"

    @property
    def file_count(self) -> int:
        return len(self.items)

    @property
    def record_count(self) -> int:
        return sum(len(item["metadata"]["records"]) for item in self.items)


class ReclaimableFigure(models.Model):
    """The open queue's reclaimable figure as last computed in the background.

    Above a size (KEEPSAKE_RECLAIMABLE_LIVE_PAIRS open pairs) a page cannot compute it while
    the curator waits; a worker does, and pages show this row with the time it was made.
    """

    state = models.CharField(max_length=120, help_text="the queue state it was computed for")
    figure = models.JSONField(default=dict)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-computed_at", "-pk"]

    def __str__(self):
        return f"reclaimable figure of {self.computed_at:%Y-%m-%d %H:%M}"
