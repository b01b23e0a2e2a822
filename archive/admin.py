"""Admin for the archive records. Writes go through services so every change is audited."""

import functools

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils import dateparse, timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from archive import admin_views
from archive.errors import ArchiveError
from archive.holds import hold_refusals_audited
from archive.licensing import licence_flags
from archive.models import (
    Asset,
    AssetSource,
    AuditEvent,
    CatalogueEntry,
    Checkpoint,
    Collection,
    IngestRejection,
    LegalHold,
    Licence,
    LicenceSignOff,
)
from archive.moments import moment_storable
from archive.roles import USER_ACCESS_FIELDS, role_change_actor, user_access_change_record
from archive.selectors import asset_active_holds, legal_hold_assets
from archive.services import record_save
from archive.views import asset_canonical


@functools.cache
def _rendition_url(size: str) -> str:
    # Lists show a hundred thumbnails; resolve the URL pattern once, not once per image.
    return reverse("archive:asset-rendition", args=[0, size]).replace("/0/", "/{}/", 1)


def thumbnail_html(asset: Asset, size: str = "thumb", edge: int = 80):
    if asset.state == Asset.State.PURGED:
        return "purged"
    url = _rendition_url(size).format(asset.pk)
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" style="max-width:{}px;max-height:{}px">',
        url,
        asset.original_filename,
        edge,
        edge,
    )


class MomentFieldListFilter(admin.DateFieldListFilter):
    """The stock date filter, its bounds moved to UTC first: a bound typed into the URL with
    an offset the database refuses (beyond ±15:59) or past the calendar's end still filters."""

    def queryset(self, request, queryset):
        for name, values in self.used_parameters.items():
            if name.endswith(("__gte", "__lt")):
                self.used_parameters[name] = [_bound(value) for value in values]
        return super().queryset(request, queryset)


def _bound(value):
    try:
        moment = dateparse.parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but no such time: the stock filter refuses it
        return value
    return moment_storable(moment) if moment else value


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: viewable, never edited or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # The built-in bulk delete uses QuerySet.delete(), bypassing every service.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


def _form_changes(obj, changed_data) -> dict:
    """The model fields a form changed, with the values the form put on obj."""
    names = {f.name for f in obj._meta.concrete_fields}
    return {name: getattr(obj, name) for name in changed_data if name in names}


class AuditedSaveMixin:
    """Route admin saves through record_save so each change writes its audit event.

    Only the fields the form changed are sent, applied to the row as locked. A refusal
    (a legal hold, a conflict) rolls the admin's transaction back and comes back as a
    message on the same page, the refusal itself still audited.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            # Outside the admin's own transaction, so a refusal it rolled back is
            # written again afterwards.
            with hold_refusals_audited():
                return super().changeform_view(request, object_id, form_url, extra_context)
        except (ArchiveError, ValidationError) as exc:
            message = exc.message if isinstance(exc, ArchiveError) else "; ".join(exc.messages)
            self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        if change:
            record_save(obj=obj, changes=_form_changes(obj, form.changed_data), actor=request.user)
        else:
            record_save(obj=obj, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Collection)
class CollectionAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = ["name", "asset_count", "reference", "intake_policy", "created_at"]
    list_filter = ["reference", "intake_policy"]
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
        "active_holds",
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

    actions = ["compare_licences", "place_legal_hold"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "licences/",
                view(lambda request: admin_views.licence_compare_view(self, request)),
                name="archive_asset_licences",
            ),
            *super().get_urls(),
        ]

    def has_compare_licences_permission(self, request):
        return request.user.has_perm("archive.view_licence")

    def has_place_legal_hold_permission(self, request):
        return request.user.has_perm("archive.place_legal_hold")

    @admin.action(
        description="Compare licences of selected assets", permissions=["compare_licences"]
    )
    def compare_licences(self, request, queryset):
        ids = ",".join(str(pk) for pk in sorted(queryset.values_list("pk", flat=True)))
        return HttpResponseRedirect(f"{reverse('admin:archive_asset_licences')}?ids={ids}")

    @admin.action(
        description="Place a legal hold on selected assets", permissions=["place_legal_hold"]
    )
    def place_legal_hold(self, request, queryset):
        ids = ",".join(str(pk) for pk in sorted(queryset.values_list("pk", flat=True)))
        return HttpResponseRedirect(f"{reverse('admin:archive_legalhold_add')}?assets={ids}")

    @admin.display(description="legal holds")
    def active_holds(self, obj):
        holds = asset_active_holds(asset=obj)
        if not holds:
            return "none (not frozen)"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:archive_legalhold_change", args=[h.pk]), h.matter_reference)
                for h in holds
            ),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A replaced asset's page answers with its canonical, so old links keep working;
        # ?replaced=1 shows the replaced record itself (it stays, in quarantine).
        asset = Asset.objects.filter(pk=object_id).first()
        if asset is not None and asset.replaced_by_id and not request.GET.get("replaced"):
            canonical = asset_canonical(asset)
            self.message_user(
                request,
                f"Asset {asset.pk} was consolidated into this asset; "
                f"its own record stays in quarantine.",
                messages.INFO,
            )
            return HttpResponseRedirect(reverse("admin:archive_asset_change", args=[canonical.pk]))
        return super().change_view(request, object_id, form_url, extra_context)

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
        "licence_count",
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
        formset.save(commit=False)
        for instance in formset.new_objects:
            record_save(obj=instance, actor=request.user)
        for instance, changed in formset.changed_objects:
            record_save(obj=instance, changes=_form_changes(instance, changed), actor=request.user)
        formset.save_m2m()

    @admin.display(description="")
    def thumbnail(self, obj):
        return thumbnail_html(obj.asset)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(licence_total=Count("licences"))

    @admin.display(description="licences", ordering="licence_total")
    def licence_count(self, obj):
        return obj.licence_total

    @admin.display(description="asset")
    def asset_link(self, obj):
        url = reverse("admin:archive_asset_change", args=[obj.asset_id])
        return format_html('<a href="{}">#{}</a>', url, obj.asset_id)


class LicenceStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("expired", "Expired"), ("restricted", "Restricted"), ("unknown", "Unknown terms")]

    def queryset(self, request, queryset):
        if self.value() == "expired":
            return queryset.filter(valid_until__lt=timezone.localdate())
        if self.value() == "restricted":
            return queryset.exclude(restrictions="")
        if self.value() == "unknown":
            return queryset.filter(licence_type=Licence.Type.UNKNOWN)
        return queryset


@admin.register(Licence)
class LicenceAdmin(AuditedSaveMixin, admin.ModelAdmin):
    list_display = [
        "entry",
        "licence_type",
        "holder",
        "territory",
        "valid_from",
        "valid_until",
        "flags",
    ]
    list_filter = [LicenceStatusFilter, "licence_type"]
    search_fields = ["holder", "entry__title", "agreement_reference", "credit_line"]
    raw_id_fields = ["entry"]

    @admin.display(description="flags")
    def flags(self, obj):
        return ", ".join(licence_flags(licence=obj, on=timezone.localdate())) or "—"


class ActiveHoldFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("released", "Released")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        return queryset


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    """Holds are placed and released through their services; never edited or deleted."""

    list_display = ["matter_reference", "active", "placed_by", "placed_at", "scope", "short_reason"]
    list_filter = [ActiveHoldFilter]
    search_fields = ["matter_reference", "reason", "release_reason"]
    readonly_fields = [
        "matter_reference",
        "reason",
        "scope",
        "frozen_now",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_reason",
    ]
    fields = readonly_fields
    change_form_template = "admin/archive/legalhold/change_form.html"
    actions = ["release_holds"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("placed_by")
            .annotate(
                asset_total=Count("assets", distinct=True),
                entry_total=Count("entries", distinct=True),
                collection_total=Count("collections", distinct=True),
            )
        )

    def has_add_permission(self, request):
        return request.user.has_perm("archive.place_legal_hold")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_release_permission(self, request):
        return request.user.has_perm("archive.release_legal_hold")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/release/",
                view(lambda r, object_id: admin_views.legal_hold_release_view(self, r, object_id)),
                name="archive_legalhold_release",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return admin_views.legal_hold_place_view(self, request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        if held := LegalHold.objects.filter(pk=object_id).first():
            extra_context["frozen_page"] = admin_views.legal_hold_frozen_page(request, held)
        hold = LegalHold.objects.filter(pk=object_id, released_at__isnull=True).first()
        if hold is not None and self.has_release_permission(request):
            extra_context["release_url"] = reverse(
                "admin:archive_legalhold_release", args=[hold.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Release selected legal holds…", permissions=["release"])
    def release_holds(self, request, queryset):
        holds = list(queryset.filter(released_at__isnull=True))
        if admin_views.legal_holds_release(self, request, holds):
            return None
        hidden = [("action", "release_holds")]
        hidden += [(admin.helpers.ACTION_CHECKBOX_NAME, h.pk) for h in holds]
        return admin_views.legal_holds_release_page(self, request, holds, hidden=hidden)

    @admin.display(boolean=True, ordering="released_at")
    def active(self, obj):
        return obj.is_active

    @admin.display(description="scope")
    def scope(self, obj):
        counts = [
            (getattr(obj, "asset_total", None), "assets"),
            (getattr(obj, "entry_total", None), "entries"),
            (getattr(obj, "collection_total", None), "collections"),
        ]
        if counts[0][0] is None:  # the change page's object is not annotated
            counts = [
                (obj.assets.count(), "assets"),
                (obj.entries.count(), "entries"),
                (obj.collections.count(), "collections"),
            ]
        return ", ".join(f"{n} {label}" for n, label in counts if n) or "—"

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(80)

    @admin.display(description="assets it freezes now")
    def frozen_now(self, obj):
        if not obj.is_active:
            return "none (released)"
        return legal_hold_assets(hold=obj).count()


@admin.register(LicenceSignOff)
class LicenceSignOffAdmin(ReadOnlyAdmin):
    list_display = ["signed_at", "signed_by", "asset_list", "short_reason"]
    search_fields = ["reason", "terms_fingerprint", "group_key"]
    readonly_fields = [
        "asset_list",
        "signed_by",
        "signed_at",
        "reason",
        "terms_fingerprint",
        "terms",
    ]
    fields = readonly_fields

    @admin.display(description="assets")
    def asset_list(self, obj):
        ids = ",".join(str(pk) for pk in obj.asset_ids)
        url = f"{reverse('admin:archive_asset_licences')}?ids={ids}"
        return format_html('<a href="{}">{}</a>', url, ", ".join(f"#{pk}" for pk in obj.asset_ids))

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(80)


@functools.cache
def _admin_change_route(object_type: str) -> str | None:
    """The admin change-page route for an audited object's type, if the admin has one."""
    from django.apps import apps

    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return None
    if model not in admin.site._registry:
        return None
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_change"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "sequence",
        "created_at",
        "actor_name",
        "verb",
        "object_link",
        "short_reason",
    ]
    # Newest first: the trail is read to find out what just happened.
    ordering = ["-sequence"]
    list_filter = ["verb", "object_type"]
    search_fields = ["actor_name", "verb", "object_id", "reason", "hash"]
    date_hierarchy = "created_at"
    change_list_template = "admin/archive/auditevent/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "export/",
                view(lambda request: admin_views.audit_export_view(self, request)),
                name="archive_auditevent_export",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_export": request.user.has_perm("archive.export_audit"),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(80)

    @admin.display(description="object", ordering="object_type")
    def object_link(self, obj):
        label = f"{obj.object_type}:{obj.object_id}" if obj.object_id else obj.object_type
        route = _admin_change_route(obj.object_type)
        if route is None or not obj.object_id:
            return label
        try:
            url = reverse(route, args=[obj.object_id])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["size", "created_at", "short_root", "key_id", "timestamped"]
    ordering = ["-size"]
    readonly_fields = ["size", "created_at", "root_hash", "chain_hash", "key_id", "note"]
    fields = readonly_fields
    change_list_template = "admin/archive/checkpoint/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "public-key/",
                view(lambda request: admin_views.audit_public_key_view(self, request)),
                name="archive_checkpoint_public_key",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="root hash")
    def short_root(self, obj):
        return obj.root_hash[:16] + "…"

    @admin.display(description="trusted timestamp", boolean=True)
    def timestamped(self, obj):
        return obj.timestamp_token is not None


@admin.register(IngestRejection)
class IngestRejectionAdmin(ReadOnlyAdmin):
    list_display = ["path", "reason", "collection", "size", "rejected_at"]
    list_filter = ["collection"]
    search_fields = ["path", "reason", "sha256"]


# --- Users and groups: role changes are audited ----------------------------------------
# Group memberships and permissions are audited by m2m_changed receivers (archive.roles);
# these admins name the acting user for them and audit the access flags themselves.

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with role_change_actor(request.user):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            before = dict(User.objects.filter(pk=obj.pk).values(*USER_ACCESS_FIELDS).get())
        super().save_model(request, obj, form, change)
        user_access_change_record(user=obj, before=before, actor=request.user)


@admin.register(Group)
class AuditedGroupAdmin(GroupAdmin):
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with role_change_actor(request.user):
            return super().changeform_view(request, object_id, form_url, extra_context)


from archive import admin_intake  # noqa: E402,F401  (the intake queue and web upload)
