"""Admin for the archive records. Writes go through services so every change is audited."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from archive.errors import ArchiveError
from archive.models import (
    Asset,
    AssetSource,
    AuditEvent,
    CatalogueEntry,
    Collection,
    IngestRejection,
    LegalHold,
    Licence,
)
from archive.services import legal_hold_scope_record, record_save


def thumbnail_html(asset: Asset, size: str = "thumb", edge: int = 80):
    if asset.state == Asset.State.PURGED:
        return "purged"
    url = reverse("archive:asset-rendition", args=[asset.pk, size])
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" style="max-width:{}px;max-height:{}px">',
        url,
        asset.original_filename,
        edge,
        edge,
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: viewable, never edited or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedSaveMixin:
    """Route admin saves through record_save so each change writes its audit event."""

    def save_model(self, request, obj, form, change):
        try:
            record_save(obj=obj, actor=request.user)
        except (ArchiveError, ValidationError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            raise

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Collection)
class CollectionAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["name", "asset_count", "created_at"]
    search_fields = ["name", "description"]

    @admin.display(description="assets")
    def asset_count(self, obj):
        return obj.assets.count()


class AssetSourceInline(admin.TabularInline):
    model = AssetSource
    fields = ["collection", "path", "ingested_at", "ingested_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = CatalogueEntry
    fk_name = "asset"
    fields = ["title", "accession_number", "collection", "published"]
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin):
    list_display = [
        "thumbnail",
        "original_filename",
        "collection",
        "format",
        "dimensions",
        "size",
        "state",
        "role",
        "storage_alias",
        "ingested_at",
    ]
    list_display_links = ["thumbnail", "original_filename"]
    list_filter = ["state", "role", "storage_alias", "format", "collection"]
    search_fields = ["sha256", "original_filename", "original_path", "sources__path"]
    list_select_related = ["collection"]
    readonly_fields = [
        "preview",
        "sha256",
        "size",
        "format",
        "width",
        "height",
        "colour_mode",
        "frame_count",
        "storage_alias",
        "storage_key",
        "state",
        "role",
        "derived_from",
        "collection",
        "original_path",
        "original_filename",
        "ingested_at",
        "ingested_by",
        "exif",
    ]
    fields = readonly_fields
    inlines = [AssetSourceInline, EntryInline]
    date_hierarchy = "ingested_at"

    def get_actions(self, request):
        # The built-in bulk delete uses QuerySet.delete(); assets leave only via retention.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="")
    def thumbnail(self, obj):
        return thumbnail_html(obj)

    @admin.display(description="preview")
    def preview(self, obj):
        if obj.state == Asset.State.PURGED:
            return "purged"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("archive:asset-file", args=[obj.pk]),
            thumbnail_html(obj, "web", "keepsake-preview"),
        )

    @admin.display(description="size (w×h)")
    def dimensions(self, obj):
        return f"{obj.width}×{obj.height}"


class LicenceInline(admin.StackedInline):
    model = Licence
    extra = 0
    can_delete = False


@admin.register(CatalogueEntry)
class CatalogueEntryAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "title",
        "accession_number",
        "collection",
        "creator",
        "published",
        "asset_link",
    ]
    list_display_links = ["thumbnail", "title"]
    list_filter = ["published", "collection"]
    search_fields = ["title", "description", "accession_number", "creator"]
    list_select_related = ["asset", "collection"]
    # Repointing and publishing are workflows with their own services, not form fields.
    readonly_fields = [
        "asset",
        "source",
        "published",
        "published_at",
        "published_sha256",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    inlines = [LicenceInline]

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            record_save(obj=instance, actor=request.user)
        formset.save_m2m()

    @admin.display(description="")
    def thumbnail(self, obj):
        return thumbnail_html(obj.asset)

    @admin.display(description="asset")
    def asset_link(self, obj):
        url = reverse("admin:archive_asset_change", args=[obj.asset_id])
        return format_html('<a href="{}">#{}</a>', url, obj.asset_id)


@admin.register(Licence)
class LicenceAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["entry", "licence_type", "holder", "territory", "valid_from", "valid_until"]
    list_filter = ["licence_type"]
    search_fields = ["holder", "entry__title", "agreement_reference", "credit_line"]
    raw_id_fields = ["entry"]


@admin.register(LegalHold)
class LegalHoldAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["matter_reference", "placed_by", "placed_at", "active", "short_reason"]
    list_filter = ["released_at"]
    search_fields = ["matter_reference", "reason"]
    raw_id_fields = ["assets", "entries"]
    filter_horizontal = ["collections"]
    readonly_fields = ["placed_by", "placed_at"]
    exclude = ["released_by", "released_at", "release_reason"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.placed_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        legal_hold_scope_record(hold=form.instance, actor=request.user)

    @admin.display(boolean=True)
    def active(self, obj):
        return obj.is_active

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(80)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "sequence",
        "created_at",
        "actor_name",
        "verb",
        "object_type",
        "object_id",
        "short_reason",
    ]
    list_filter = ["verb", "object_type"]
    search_fields = ["actor_name", "verb", "object_id", "reason", "hash"]
    date_hierarchy = "created_at"

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(80)


@admin.register(IngestRejection)
class IngestRejectionAdmin(ReadOnlyAdmin):
    list_display = ["path", "reason", "collection", "size", "rejected_at"]
    list_filter = ["collection"]
    search_fields = ["path", "reason", "sha256"]
