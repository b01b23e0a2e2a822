"""The records: collections, stored assets, catalogue entries, licences, holds, audit log."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import m2m_changed
from django.utils import timezone

from archive.errors import ArchiveError

SHA256_HEX_LENGTH = 64


class LoadedValues:
    """Remembers the values of `remembered_fields` as the database last held them.

    `save()` compares against them to refuse changes the ORM would otherwise write
    silently; they are taken when a row is loaded, refreshed or saved.
    """

    remembered_fields: tuple[str, ...] = ()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = {}
        instance._values_remember()
        return instance

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        self._values_remember(fields)

    def _values_remember(self, names=None):
        if not hasattr(self, "_loaded"):
            self._loaded = {}
        for name in self.remembered_fields:
            attname = self._meta.get_field(name).attname
            if names is not None and name not in names and attname not in names:
                continue
            # Deferred fields are not in __dict__: they are not remembered until loaded.
            if attname in self.__dict__:
                self._loaded[attname] = self.__dict__[attname]

    def _values_changed(self, update_fields=None) -> list[str]:
        """The remembered fields this save would write with a value other than the stored one."""
        if self._state.adding:
            return []
        loaded = getattr(self, "_loaded", {})
        changed = []
        for name in self.remembered_fields:
            attname = self._meta.get_field(name).attname
            if update_fields is not None and not {name, attname} & set(update_fields):
                continue
            if attname not in self.__dict__:
                continue  # deferred and never set: the save leaves the column alone
            if attname not in loaded or loaded[attname] != self.__dict__[attname]:
                changed.append(name)
        return changed


class Collection(models.Model):
    """A source system or department whose images enter the archive."""

    class IntakePolicy(models.TextChoices):
        ADMIT = "admit", "Admit (flag near copies in the review queue)"
        ADMIT_FLAG = "admit_flag", "Admit and flag (tell the uploader at once)"
        HOLD = "hold", "Hold at the gate (a curator decides before it enters)"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    reference = models.BooleanField(
        default=False,
        help_text=(
            "A reference collection: its assets are always the canonical of a duplicate "
            "group and are never replaced by a copy from elsewhere."
        ),
    )
    intake_policy = models.CharField(
        max_length=16,
        choices=IntakePolicy.choices,
        default=IntakePolicy.ADMIT,
        help_text="What happens when a new file is judged a copy of an asset already held.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


# archive.lifecycle.LIFECYCLE_FIELDS (which imports this module): the columns only the
# lifecycle writes, by field name and, for the foreign key, by attribute name.
ASSET_LIFECYCLE_FIELDS = ("state", "storage_alias", "storage_key", "replaced_by")
LIFECYCLE_COLUMNS = {*ASSET_LIFECYCLE_FIELDS, "replaced_by_id"}


class AssetQuerySet(models.QuerySet):
    def holding_bytes(self):
        """Assets whose bytes still exist somewhere (everything but tombstones)."""
        return self.exclude(state=Asset.State.PURGED)

    def under_active_hold(self):
        """Assets frozen by an active legal hold: held directly, or as a twin of a held one."""
        # Imported here because the selector module imports these models; twins come from
        # receivers the child apps connect (see archive.selectors.asset_twins_lookup).
        from archive.selectors import frozen_asset_ids

        return self.filter(pk__in=frozen_asset_ids())

    def update(self, **kwargs):
        # Bulk updates bypass Asset.save(); lifecycle columns change through the lifecycle.
        changed = sorted(set(kwargs) & LIFECYCLE_COLUMNS)
        if changed and not _lifecycle_writing():
            raise ArchiveError(_lifecycle_message(changed))
        return super().update(**kwargs)

    def delete(self):
        # Bulk deletes bypass Model.delete(); removal goes through retention's guard only.
        raise ArchiveError("Assets cannot be deleted in bulk; removal goes through retention.")


# archive.lifecycle imports these models, so it is imported when first needed.
def _lifecycle_writing() -> bool:
    from archive.lifecycle import lifecycle_active

    return lifecycle_active()


def _lifecycle_message(changed) -> str:
    return (
        f"An asset's {', '.join(changed)} change only through its lifecycle "
        "(archive.lifecycle), which guards, locks and audits every transition."
    )


class Asset(LoadedValues, models.Model):
    """One stored file: its bytes live in a storage tier under a content-addressed key.

    Its state, storage pointer and replacement are written by archive.lifecycle only:
    save() and the queryset's update() refuse changing them outside `lifecycle_writes()`.
    """

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        QUARANTINED = "quarantined", "Quarantined"
        PURGED = "purged", "Purged (tombstone)"

    class Role(models.TextChoices):
        ORIGINAL = "original", "Original"
        DERIVATIVE = "derivative", "Derivative"

    class Tier(models.TextChoices):
        HOT = "hot", "Hot"
        COLD = "cold", "Cold"
        QUARANTINE = "quarantine", "Quarantine"

    sha256 = models.CharField(max_length=SHA256_HEX_LENGTH, db_index=True)
    size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    colour_mode = models.CharField(max_length=16, blank=True)
    frame_count = models.PositiveIntegerField(default=1)
    storage_alias = models.CharField(max_length=16, choices=Tier.choices, default=Tier.HOT)
    storage_key = models.CharField(max_length=512, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ORIGINAL)
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derivatives"
    )
    # Set when a consolidation folds this asset into a canonical one: its links answer
    # with the canonical from then on.
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacements"
    )
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="assets")
    original_path = models.CharField(max_length=1024)
    original_filename = models.CharField(max_length=255)
    ingested_at = models.DateTimeField(default=timezone.now, db_index=True)
    ingested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exif = models.JSONField(default=dict, blank=True)

    objects = AssetQuerySet.as_manager()

    remembered_fields = ASSET_LIFECYCLE_FIELDS

    class Meta:
        ordering = ["-ingested_at", "-pk"]
        constraints = [
            # One live asset per content: the same bytes are never stored twice. Tombstones
            # are excluded so purged content may be ingested again later.
            models.UniqueConstraint(
                fields=["sha256"],
                condition=~Q(state="purged"),
                name="asset_unique_live_sha256",
            ),
            models.CheckConstraint(
                condition=Q(state="purged") | ~Q(storage_key=""),
                name="asset_live_has_storage_key",
            ),
            models.CheckConstraint(
                condition=Q(width__gt=0) & Q(height__gt=0), name="asset_positive_dimensions"
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="asset_not_empty"),
            models.CheckConstraint(
                condition=Q(derived_from__isnull=True) | Q(role="derivative"),
                name="asset_only_derivatives_have_source",
            ),
            models.CheckConstraint(
                condition=~Q(derived_from=F("pk")), name="asset_not_derived_from_itself"
            ),
            models.CheckConstraint(
                condition=~Q(replaced_by=F("pk")), name="asset_not_replaced_by_itself"
            ),
            models.CheckConstraint(
                condition=Q(state__in=["active", "quarantined", "purged"]),
                name="asset_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(storage_alias__in=["hot", "cold", "quarantine"]),
                name="asset_storage_alias_valid",
            ),
        ]

    def __str__(self):
        return f"{self.original_filename} ({self.sha256[:12]})"

    def save(self, *args, **kwargs):
        if not _lifecycle_writing():
            if self._state.adding:
                raise ArchiveError(
                    "Assets are created by the lifecycle's ingest (archive.lifecycle.asset_create)."
                )
            changed = self._values_changed(kwargs.get("update_fields"))
            if changed:
                raise ArchiveError(_lifecycle_message(changed))
            if kwargs.get("update_fields") is None:
                # A full save of an instance loaded before a transition would write the
                # old state back: outside the lifecycle those columns are never written.
                kwargs["update_fields"] = self._fields_but_lifecycle()
        super().save(*args, **kwargs)
        self._values_remember(kwargs.get("update_fields"))

    def _fields_but_lifecycle(self) -> list[str]:
        deferred = self.get_deferred_fields()
        return [
            field.name
            for field in self._meta.concrete_fields
            if not field.primary_key
            and field.attname not in deferred
            and field.name not in ASSET_LIFECYCLE_FIELDS
        ]

    def clean(self):
        if self.sha256 and len(self.sha256) != SHA256_HEX_LENGTH:
            raise ValidationError({"sha256": "A SHA-256 digest has 64 hexadecimal characters."})

    def delete(self, *args, **kwargs):
        # Removing bytes is retention's job, through its one guard; rows are never deleted.
        raise ArchiveError("Assets cannot be deleted; removal goes through retention.")

    @property
    def pixel_count(self) -> int:
        return self.width * self.height


class AssetSource(models.Model):
    """A place the bytes of an asset arrived from: several sources may share one asset."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="sources")
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="sources")
    path = models.CharField(max_length=1024)
    ingested_at = models.DateTimeField(default=timezone.now)
    ingested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["ingested_at", "pk"]
        constraints = [
            # The same path may deliver new bytes later (a new asset), but one path never
            # records the same bytes twice: that is what makes re-ingest idempotent.
            models.UniqueConstraint(
                fields=["asset", "collection", "path"], name="asset_source_unique_path"
            ),
        ]

    def __str__(self):
        return f"{self.collection}: {self.path}"


PUBLISHED_FIELDS = ("published_sha256", "published_at")
ENTRY_DELETE_MESSAGE = "Catalogue entries cannot be deleted."
ENTRY_PUBLISHED_MESSAGE = "What was published, and when, never changes once recorded."


class CatalogueEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # A row whose publication is recorded keeps it; rows not yet published may be.
        recorded = {
            "published_sha256": ~Q(published_sha256=""),
            "published_at": Q(published_at__isnull=False),
        }
        for name, condition in recorded.items():
            if name in kwargs and self.filter(condition).exists():
                raise ArchiveError(ENTRY_PUBLISHED_MESSAGE)
        return super().update(**kwargs)

    def delete(self):
        # Bulk deletes bypass Model.delete(); an entry's record of publication is evidence.
        raise ArchiveError(ENTRY_DELETE_MESSAGE)


class CatalogueEntry(LoadedValues, models.Model):
    """A descriptive record pointing at one asset; many entries may share an asset."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="entries")
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="entries")
    source = models.OneToOneField(
        AssetSource, null=True, blank=True, on_delete=models.PROTECT, related_name="entry"
    )
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    accession_number = models.CharField(max_length=100, blank=True)
    creator = models.CharField(max_length=300, blank=True)
    date_start = models.DateField(null=True, blank=True)
    date_end = models.DateField(null=True, blank=True)
    subjects = models.JSONField(default=list, blank=True)
    published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    published_sha256 = models.CharField(max_length=SHA256_HEX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CatalogueEntryQuerySet.as_manager()

    remembered_fields = PUBLISHED_FIELDS

    class Meta:
        ordering = ["title", "pk"]
        verbose_name_plural = "catalogue entries"
        constraints = [
            models.UniqueConstraint(
                fields=["accession_number"],
                condition=~Q(accession_number=""),
                name="entry_unique_accession_number",
            ),
            models.CheckConstraint(
                condition=Q(date_start__isnull=True)
                | Q(date_end__isnull=True)
                | Q(date_end__gte=F("date_start")),
                name="entry_dates_ordered",
            ),
            # Once published, the exact bytes published are recorded for good (invariant 2).
            models.CheckConstraint(
                condition=Q(published=False)
                | (Q(published_at__isnull=False) & ~Q(published_sha256="")),
                name="entry_published_records_time_and_bytes",
            ),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        # Invariant 2 rests on these: once recorded they are evidence, never rewritten.
        loaded = getattr(self, "_loaded", {})
        for name in self._values_changed(kwargs.get("update_fields")):
            if loaded.get(name) not in (None, ""):
                raise ArchiveError(ENTRY_PUBLISHED_MESSAGE)
        super().save(*args, **kwargs)
        self._values_remember(kwargs.get("update_fields"))

    def delete(self, *args, **kwargs):
        raise ArchiveError(ENTRY_DELETE_MESSAGE)


class Licence(models.Model):
    """The terms under which one catalogue entry may be used."""

    class Type(models.TextChoices):
        STAFF = "staff", "Staff"
        AGENCY = "agency", "Agency"
        RIGHTS_MANAGED = "rights_managed", "Rights-managed"
        CC_BY = "cc_by", "CC BY"
        CC_BY_SA = "cc_by_sa", "CC BY-SA"
        CC_BY_NC = "cc_by_nc", "CC BY-NC"
        CC_BY_NC_SA = "cc_by_nc_sa", "CC BY-NC-SA"
        CC_BY_ND = "cc_by_nd", "CC BY-ND"
        CC_BY_NC_ND = "cc_by_nc_nd", "CC BY-NC-ND"
        CC0 = "cc0", "CC0"
        PUBLIC_DOMAIN = "public_domain", "Public domain"
        UNKNOWN = "unknown", "Unknown"

    entry = models.ForeignKey(CatalogueEntry, on_delete=models.PROTECT, related_name="licences")
    holder = models.CharField(max_length=300)
    licence_type = models.CharField(max_length=20, choices=Type.choices, default=Type.UNKNOWN)
    territory = models.CharField(max_length=200, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    restrictions = models.TextField(blank=True)
    credit_line = models.CharField(max_length=500, blank=True)
    agreement_reference = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["entry", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="licence_validity_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.get_licence_type_display()} — {self.holder}"


HOLD_DELETE_MESSAGE = "Legal holds are released, never deleted; their scope never shrinks."


class LegalHoldQuerySet(models.QuerySet):
    def delete(self):
        # Deleting a hold would lift it with no release on the record.
        raise ArchiveError(HOLD_DELETE_MESSAGE)


class LegalHold(models.Model):
    """A freeze on assets, entries or whole collections while a matter is open."""

    matter_reference = models.CharField(max_length=200)
    reason = models.TextField()
    assets = models.ManyToManyField(Asset, blank=True, related_name="legal_holds")
    entries = models.ManyToManyField(CatalogueEntry, blank=True, related_name="legal_holds")
    collections = models.ManyToManyField(Collection, blank=True, related_name="legal_holds")
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-pk"]
        # Holds are placed and released through services, never edited or deleted.
        default_permissions = ("view",)
        permissions = [
            ("place_legal_hold", "Can place a legal hold"),
            ("release_legal_hold", "Can release a legal hold"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(released_at__isnull=True)
                | (
                    Q(released_by__isnull=False)
                    & ~Q(release_reason="")
                    & Q(released_at__gte=F("placed_at"))
                ),
                name="legal_hold_release_complete",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="legal_hold_has_reason"),
        ]

    def __str__(self):
        return self.matter_reference

    def delete(self, *args, **kwargs):
        raise ArchiveError(HOLD_DELETE_MESSAGE)

    @property
    def is_active(self) -> bool:
        return self.released_at is None


def legal_hold_scope_shrink_refuse(sender, instance, action, reverse, pk_set, **kwargs):
    """Refuse removing a hold's scope rows: remove, clear or a shrinking set, either side."""
    if action not in ("pre_remove", "pre_clear"):
        return
    other = next(f.name for f in sender._meta.fields if f.is_relation and f.name != "legalhold")
    own, named = (other, "legalhold") if reverse else ("legalhold", other)
    rows = sender.objects.filter(**{own: instance.pk})
    if action == "pre_remove":
        rows = rows.filter(**{f"{named}__in": pk_set})
    # Removing nothing (a remove of unrelated rows, a clear of an empty scope) lifts nothing.
    if rows.exists():
        raise ArchiveError(HOLD_DELETE_MESSAGE)


# Connected here rather than in apps.ready(): like LegalHold.delete(), it is the model's own
# refusal and must hold wherever the models are imported. Adding scope, as legal_hold_place
# does with set() on a new hold, removes nothing and passes. Deletes of the auto-created
# through rows that bypass the managers (a queryset on `through`, a cascade from a deleted
# collection) send no signal; the database's triggers refuse those (archive.append_only).
for _scope in (LegalHold.assets, LegalHold.entries, LegalHold.collections):
    m2m_changed.connect(
        legal_hold_scope_shrink_refuse,
        sender=_scope.through,
        dispatch_uid=f"legal_hold_scope_shrink_refuse_{_scope.field.name}",
    )


class LicenceSignOff(models.Model):
    """A licensing decision that a group of assets may be treated as one despite differing terms.

    It holds for the exact group (group_key) and the exact licence terms it was made on
    (terms_fingerprint): any later licence change on the group makes it stale.
    """

    group_key = models.CharField(max_length=SHA256_HEX_LENGTH)
    asset_ids = models.JSONField()
    terms_fingerprint = models.CharField(max_length=SHA256_HEX_LENGTH)
    # The comparison exactly as it was seen, so the decision can be read later in context.
    terms = models.JSONField()
    reason = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-signed_at", "-pk"]
        default_permissions = ("view",)
        permissions = [("sign_off_licence", "Can sign off a licence conflict")]
        constraints = [
            models.UniqueConstraint(
                fields=["group_key", "terms_fingerprint"], name="licence_sign_off_unique_terms"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="licence_sign_off_has_reason"),
        ]

    def __str__(self):
        return f"licence sign-off for assets {self.asset_ids}"


class AuditChainHead(models.Model):
    """The single row holding the chain's last sequence number and hash.

    Every audit write locks this row, so events get gap-free sequence numbers in commit
    order on every database, and the head hash proves the chain's tail was not cut off.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=SHA256_HEX_LENGTH, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_head_singleton")]

    def __str__(self):
        return f"audit head #{self.last_sequence}"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ArchiveError("Audit events are append-only.")

    def delete(self):
        raise ArchiveError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One state change, hash-chained to the event before it; never updated or deleted."""

    sequence = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The name is kept as well, so the trail stays readable even if accounts are renamed.
    actor_name = models.CharField(max_length=150)
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    previous_hash = models.CharField(max_length=SHA256_HEX_LENGTH, blank=True)
    hash = models.CharField(max_length=SHA256_HEX_LENGTH, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        # Events are written by services only; reading and exporting are the only rights.
        default_permissions = ("view",)
        permissions = [("export_audit", "Can export the audit trail")]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]
        constraints = [models.CheckConstraint(condition=Q(sequence__gt=0), name="audit_seq_pos")]

    def __str__(self):
        return f"#{self.sequence} {self.verb} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ArchiveError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ArchiveError("Audit events are append-only.")


class IngestRejection(models.Model):
    """A file the ingest refused, with the reason; the source file is left untouched."""

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=1024)
    reason = models.TextField()
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=SHA256_HEX_LENGTH, blank=True)
    rejected_at = models.DateTimeField(default=timezone.now, db_index=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-rejected_at", "-pk"]

    def __str__(self):
        return f"{self.path}: {self.reason}"


class IntakeItem(models.Model):
    """A file that arrived looking like an asset already held, and what a curator chose.

    Waiting items keep their bytes staged apart from the archive's (the hot tier's
    ``intake/`` folder) until the choice is carried out; `archive.intake` owns the rules.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for a curator"
        DECIDING = "deciding", "Being carried out"
        STORED = "stored", "Stored anyway"
        RECORD_ADDED = "record_added", "Added as another record of the existing asset"
        USED_EXISTING = "used_existing", "Existing record used; nothing stored"
        FLAGGED = "flagged", "Admitted and flagged"

    class Choice(models.TextChoices):
        USE_EXISTING = "use_existing", "Use the existing record"
        ADD_RECORD = "add_record", "Add as another record of the existing asset"
        STORE = "store", "Store anyway"

    class Via(models.TextChoices):
        INGEST = "ingest", "Ingest command"
        API = "api", "API upload"
        WEB = "web", "Web upload"

    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=1024)
    sha256 = models.CharField(max_length=SHA256_HEX_LENGTH, db_index=True)
    size = models.PositiveBigIntegerField()
    format = models.CharField(max_length=16, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    staged_alias = models.CharField(max_length=16, blank=True)
    staged_key = models.CharField(max_length=512, blank=True)
    # The catalogue entry the file asked for ({"metadata": {...}, "published": bool}).
    entry_fields = models.JSONField(default=dict, blank=True)
    # What the judges found: [{"asset": id, "kind", "reason", "phash_distance"}], best first.
    matches = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    choice = models.CharField(max_length=16, choices=Choice.choices, blank=True)
    decision_reason = models.TextField(blank=True)
    via = models.CharField(max_length=16, choices=Via.choices)
    # Held by the collection's `hold` policy: only curators decide it (an uploader decides
    # their own web upload only when it was held to ask them).
    curators_decide = models.BooleanField(default=False)
    target = models.ForeignKey(
        "Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    asset = models.ForeignKey(
        "Asset", null=True, blank=True, on_delete=models.PROTECT, related_name="intake_items"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    DONE = (Status.STORED, Status.RECORD_ADDED, Status.USED_EXISTING, Status.FLAGGED)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("decide_intakeitem", "Decide on uploads waiting at the intake gate")]

    def __str__(self):
        return f"{self.path} ({self.get_status_display()})"


class ApiIdempotencyKey(models.Model):
    """The first answer to an API request sent with an `Idempotency-Key`, replayed on retries.

    A client that lost the answer (a dropped connection) sends the request again with the
    same key and gets the stored status and body instead of a second run; the same key
    with a different request (the fingerprint of its file and fields) is refused.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=SHA256_HEX_LENGTH)
    # Empty only inside the transaction of the first request, which fills them before it
    # commits: nobody else ever reads them empty.
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_unique_key"),
        ]

    def __str__(self):
        return f"{self.user_id}:{self.key} → {self.status_code}"


class Checkpoint(models.Model):
    """A signed statement of the audit log's Merkle tree: its size and root hash.

    Written by `archive.checkpoints.checkpoint_seal`; `note` is the signed checkpoint
    text an outsider verifies with the archive's public key. Rows are never changed,
    except that a trusted timestamp may be added once, after the seal committed.
    """

    size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.CharField(max_length=SHA256_HEX_LENGTH)
    # The hash of event #size: ties the Merkle tree to the hash chain.
    chain_hash = models.CharField(max_length=SHA256_HEX_LENGTH)
    # The roots of the perfect subtrees left to right, so the next seal reads only new events.
    frontier = models.JSONField(default=list)
    note = models.TextField()
    key_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    timestamp_token = models.BinaryField(null=True, blank=True)
    timestamp_authority = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["size"]
        default_permissions = ("view",)
        constraints = [models.CheckConstraint(condition=Q(size__gt=0), name="checkpoint_size_pos")]

    def __str__(self):
        return f"checkpoint #{self.size}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            # Only the timestamp may be added, once (see checkpoint_timestamp).
            if set(kwargs.get("update_fields") or ()) != {"timestamp_token", "timestamp_authority"}:
                raise ArchiveError("Checkpoints are never changed.")
            if Checkpoint.objects.filter(pk=self.pk, timestamp_token__isnull=False).exists():
                raise ArchiveError("This checkpoint already carries a timestamp.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ArchiveError("Checkpoints are never deleted.")
