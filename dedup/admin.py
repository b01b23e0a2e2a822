"""The review queue in the admin: pending pairs, the compare screen, bulk confirm, undo."""

import hashlib

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from archive.admin import ReadOnlyAdmin, thumbnail_html
from archive.errors import ArchiveError
from archive.models import Collection
from dedup import admin_views
from dedup.consolidation import consolidation_undo
from dedup.models import Consolidation, DuplicateCandidate, Fingerprint, ScanRun
from dedup.reclaimable import open_pairs_reclaimable
from dedup.review import BULK_KINDS, Decision, candidate_decide, candidates_bulk_confirm
from dedup.selectors import (
    OPEN_STATUSES,
    QUEUE_CACHE_SECONDS,
    QUEUE_ORDER,
    open_kind_counts,
    queue_state,
    review_flags,
    review_involving,
)


class CollectionFilter(admin.SimpleListFilter):
    title = "collection"
    parameter_name = "collection"

    def lookups(self, request, model_admin):
        return [(c.pk, c.name) for c in Collection.objects.order_by("name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(
            Q(asset_a__sources__collection=self.value())
            | Q(asset_b__sources__collection=self.value())
        ).distinct()


class SensitiveFilter(admin.SimpleListFilter):
    title = "involves"
    parameter_name = "involves"

    def lookups(self, request, model_admin):
        return [("held", "a held asset"), ("published", "a published asset")]

    def queryset(self, request, queryset):
        if self.value() in ("held", "published"):
            return review_involving(queryset, involves=self.value())
        return queryset


class FoundByFilter(admin.SimpleListFilter):
    # Fixed choices: a DISTINCT over every pair on each page load costs more than it tells.
    title = "found by"
    parameter_name = "found_by"

    def lookups(self, request, model_admin):
        return [(v, v) for v in ("ingest", "scan", "rolling-scan", "backfill", "task")]

    def queryset(self, request, queryset):
        return queryset.filter(found_by=self.value()) if self.value() else queryset


class StatusFilter(admin.SimpleListFilter):
    """Open pairs (pending or deferred) unless another status is chosen."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("all", "All"), *DuplicateCandidate.Status.choices]

    def choices(self, changelist):
        value = self.value()
        yield {
            "selected": value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Open (pending or deferred)",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset.filter(status__in=OPEN_STATUSES)
        if self.value() == "all":
            return queryset
        return queryset.filter(status=self.value())


def _side_cell(asset, captured):
    collection = asset.collection.name if asset.collection_id else ""
    return format_html(
        '<span class="keepsake-side-cell">{}×{}<br>{}<br>{}<br>{}</span>',
        asset.width,
        asset.height,
        filesizeformat(asset.size),
        collection,
        (captured or "")[:10] or f"ingested {asset.ingested_at:%Y-%m-%d}",
    )


class QueuePaginator(Paginator):
    """Counts the queue once per queue state when the page is filtered only by what that
    state covers (kind and status); counting a million open pairs on every page costs more
    than the page itself. Any other filter (collection, holds, search) is counted live."""

    def __init__(self, *args, cacheable: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.cacheable = cacheable

    @cached_property
    def count(self):
        if not self.cacheable:
            return super().count
        query = hashlib.sha256(str(self.object_list.query).encode("utf-8")).hexdigest()
        key = f"dedup:queue:count:{queue_state()}:{query}"
        if (counted := cache.get(key)) is None:
            counted = super().count
            cache.set(key, counted, QUEUE_CACHE_SECONDS)
        return counted

    def page(self, number):
        """A page in two steps: the page's ids from the queue's own index (the rows skipped
        before a deep page are read there only, never joined to their assets), then those
        rows with both sides. An OFFSET over the joined query costs two asset lookups for
        every skipped pair: 2,450 of them on page 50."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        return self._get_page(self.object_list.filter(pk__in=ids), number, self)


# The changelist parameters whose effect on the count the queue state key covers.
QUEUE_STATE_PARAMETERS = {"kind__exact", "state", "status__exact", "p", "o"}


class ReviewChangeList(ChangeList):
    """Hold and publication flags for the rows of one page only: two queries per page."""

    def get_results(self, request):
        super().get_results(request)
        review_flags(candidates=self.result_list)


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(admin.ModelAdmin):
    list_display_links = ["pair"]
    list_display = [
        "pair",
        "kind_short",
        "side_a",
        "side_b",
        "reason",
        "flags",
        "status",
        "compare",
    ]
    list_filter = ["kind", StatusFilter, CollectionFilter, SensitiveFilter, FoundByFilter]
    search_fields = [
        "asset_a__original_filename",
        "asset_b__original_filename",
        "asset_a__sha256",
        "asset_b__sha256",
    ]
    list_per_page = 50
    ordering = QUEUE_ORDER
    list_select_related = ["asset_a__collection", "asset_b__collection"]
    # Counting the unfiltered queue twice on every page costs more than it tells.
    show_full_result_count = False
    actions = ["bulk_confirm", "bulk_defer"]
    change_list_template = "admin/dedup/duplicatecandidate/change_list.html"

    def get_queryset(self, request):
        # The list shows a thumbnail per side: load only what that needs, not the EXIF.
        side = [
            "id",
            "state",
            "original_filename",
            "sha256",
            "width",
            "height",
            "size",
            "ingested_at",
            "collection__name",
        ]
        return (
            super()
            .get_queryset(request)
            .only(
                "id",
                "asset_a",
                "asset_b",
                "kind",
                "kind_rank",
                "phash_distance",
                "dhash_distance",
                "evidence",
                "status",
                "found_by",
                "created_at",
                *[f"asset_a__{f}" for f in side],
                *[f"asset_b__{f}" for f in side],
            )
        )

    def get_changelist(self, request, **kwargs):
        return ReviewChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        cacheable = set(request.GET) <= QUEUE_STATE_PARAMETERS
        return QueuePaginator(
            queryset, per_page, orphans, allow_empty_first_page, cacheable=cacheable
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/compare/",
                view(lambda r, object_id: admin_views.compare_view(self, r, object_id)),
                name="dedup_duplicatecandidate_compare",
            ),
            path(
                "next/",
                view(lambda r: admin_views.next_view(self, r)),
                name="dedup_duplicatecandidate_next",
            ),
            path(
                "groups/",
                view(lambda r: admin_views.groups_view(self, r)),
                name="dedup_duplicatecandidate_groups",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        counts = open_kind_counts()
        extra_context = {
            **(extra_context or {}),
            "kind_counts": list(counts.items()),
            "open_total": sum(counts.values()),
            "reclaimable": open_pairs_reclaimable(),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return admin_views.compare_view(self, request, object_id)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm("dedup.review_duplicates")

    @admin.display(description="pair")
    def pair(self, obj):
        return format_html(
            '<div class="keepsake-pair">{}{}</div>',
            thumbnail_html(obj.asset_a),
            thumbnail_html(obj.asset_b),
        )

    @admin.display(description="kind", ordering="kind_rank")
    def kind_short(self, obj):
        return format_html(
            '<span title="{}">{}</span><br><small>pHash {} · dHash {}</small>',
            obj.get_kind_display(),
            obj.kind,
            obj.phash_distance,
            obj.dhash_distance,
        )

    @admin.display(description="side a")
    def side_a(self, obj):
        return _side_cell(obj.asset_a, (obj.evidence.get("exif") or {}).get("capture_time_a"))

    @admin.display(description="side b")
    def side_b(self, obj):
        return _side_cell(obj.asset_b, (obj.evidence.get("exif") or {}).get("capture_time_b"))

    @admin.display(description="pHash/dHash", ordering="phash_distance")
    def distances(self, obj):
        return f"{obj.phash_distance} / {obj.dhash_distance}"

    @admin.display(description="reason")
    def reason(self, obj):
        return obj.evidence.get("reason", "")

    @admin.display(description="")
    def flags(self, obj):
        labels = [("held", obj.held), ("published", obj.published)]
        return ", ".join(label for label, present in labels if present)

    @admin.display(description="")
    def compare(self, obj):
        url = reverse("admin:dedup_duplicatecandidate_compare", args=[obj.pk])
        return format_html('<a class="button" href="{}">compare</a>', url)

    @admin.action(
        description="Confirm selected exact/pixel pairs (suggested canonical)",
        permissions=["review"],
    )
    def bulk_confirm(self, request, queryset):
        refused = queryset.exclude(kind__in=BULK_KINDS)
        if refused.exists():
            self.message_user(
                request,
                f"{refused.count()} derivative or similar pairs were left "
                "alone: they are decided one at a time.",
                messages.WARNING,
            )
        results = candidates_bulk_confirm(
            candidates=queryset.filter(kind__in=BULK_KINDS), actor=request.user
        )
        done = sum(1 for _, problem in results if not problem)
        for candidate, problem in results:
            if problem:
                self.message_user(request, f"{candidate}: {problem}", messages.ERROR)
        self.message_user(request, f"{done} pairs confirmed and consolidated.", messages.SUCCESS)

    @admin.action(description="Defer selected pairs", permissions=["review"])
    def bulk_defer(self, request, queryset):
        for candidate in queryset:
            try:
                candidate_decide(candidate=candidate, decision=Decision.DEFER, actor=request.user)
            except ArchiveError as exc:
                self.message_user(request, f"{candidate}: {exc.message}", messages.ERROR)


@admin.register(Consolidation)
class ConsolidationAdmin(admin.ModelAdmin):
    list_display = ["pk", "canonical", "created_by", "created_at", "undone_at"]
    readonly_fields = [
        "canonical",
        "provenance",
        "reason",
        "created_at",
        "created_by",
        "undone_at",
        "undone_by",
    ]
    exclude = ["replaced", "candidates", "snapshot"]
    actions = ["undo"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm("dedup.review_duplicates")

    @admin.action(description="Undo selected consolidations…", permissions=["review"])
    def undo(self, request, queryset):
        # Asks for a reason and a confirmation first: an undo reopens decided pairs.
        reason = request.POST.get("undo_reason", "").strip()
        confirmed = request.POST.get("undo_confirmed") == "yes"
        consolidations = list(queryset.prefetch_related("replaced"))
        if not (reason and confirmed):
            error = ""
            if "undo_reason" in request.POST:
                error = "Give a reason and tick the confirmation to undo."
            return TemplateResponse(
                request,
                "admin/dedup/consolidation_undo.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Undo consolidations",
                    "opts": self.model._meta,
                    "consolidations": consolidations,
                    "ids": [c.pk for c in consolidations],
                    "error": error,
                },
            )
        for consolidation in consolidations:
            try:
                consolidation_undo(consolidation=consolidation, actor=request.user, reason=reason)
            except ArchiveError as exc:
                self.message_user(request, f"{consolidation}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{consolidation} undone.", messages.SUCCESS)
        return None


@admin.register(Fingerprint)
class FingerprintAdmin(ReadOnlyAdmin):
    list_display = ["asset", "low_information", "error", "hash_version", "computed_at"]
    list_filter = ["low_information", "hash_version"]
    search_fields = ["sha256", "asset__original_filename"]


@admin.register(ScanRun)
class ScanRunAdmin(FingerprintAdmin):
    list_display = ["pk", "started_at", "incremental", "recorded", "summary"]
    list_filter = ["incremental", "recorded"]
    search_fields = []


from dedup import admin_releases  # noqa: E402,F401  (clean-dataset releases)
