"""Admin for campaigns (progress page with the burn-down), the options report and the
certificates of destruction (read-only, downloads as issued). Imported by retention.admin."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from archive.admin import ReadOnlyAdmin
from archive.errors import ArchiveError
from archive.models import Collection
from retention.campaign_chart import burndown_svg
from retention.campaigns import campaign_progress, campaign_save
from retention.certificates import certificate_check
from retention.models import Campaign, DestructionCertificate
from retention.options import options_report

OPTIONS_PERMISSION = "retention.view_storage_dashboard"


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "starts_on", "deadline", "owner", "progress_link"]
    search_fields = ["name"]
    filter_horizontal = ["collections"]
    fields = [
        "name",
        "description",
        "collections",
        "ingested_from",
        "ingested_until",
        "owner",
        "starts_on",
        "deadline",
    ]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="progress")
    def progress_link(self, obj):
        url = reverse("admin:retention_campaign_progress", args=[obj.pk])
        return format_html('<a href="{}">progress and burn-down</a>', url)

    def save_model(self, request, obj, form, change):
        try:
            campaign_save(
                campaign=obj, collections=form.cleaned_data["collections"], actor=request.user
            )
        except ArchiveError as exc:
            raise PermissionDenied(exc.message) from exc

    def save_related(self, request, form, formsets, change):
        # The service set the collections (and audited them); nothing else is related.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/progress/",
                wrap(self.progress_view),
                name="retention_campaign_progress",
            ),
            path(
                "<int:object_id>/options/",
                wrap(self.options_view),
                name="retention_campaign_options",
            ),
            path("options/", wrap(self.collection_options_view), name="retention_options_report"),
            *super().get_urls(),
        ]

    def progress_view(self, request, object_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=object_id)
        progress = campaign_progress(campaign=campaign)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Campaign: {campaign.name}",
            "opts": self.model._meta,
            "campaign": campaign,
            "p": progress,
            # Built by retention.campaign_chart, which escapes every text it draws.
            "svg": mark_safe(burndown_svg(progress)),  # noqa: S308
            "can_see_options": request.user.has_perm(OPTIONS_PERMISSION),
        }
        return TemplateResponse(request, "admin/retention/campaign/progress.html", context)

    def _options_page(self, request, report, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "report": report,
            "collections": Collection.objects.order_by("name"),
        }
        return TemplateResponse(request, "admin/retention/campaign/options.html", context)

    def options_view(self, request, object_id: int):
        if not request.user.has_perm(OPTIONS_PERMISSION):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=object_id)
        report = options_report(campaign=campaign)
        return self._options_page(request, report, f"Options report: campaign {campaign.name}")

    def collection_options_view(self, request):
        if not request.user.has_perm(OPTIONS_PERMISSION):
            raise PermissionDenied
        pk = request.GET.get("collection", "")
        collection = Collection.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
        report = options_report(collection=collection) if collection else None
        title = f"Options report: {collection.name}" if collection else "Options report"
        return self._options_page(request, report, title)


def _download_links(certificate: DestructionCertificate) -> str:
    return format_html_join(
        " · ",
        '<a href="{}">{}</a>',
        (
            (
                reverse("admin:retention_destructioncertificate_download", args=[certificate.pk])
                + f"?as={f}",
                f.upper(),
            )
            for f in ("json", "html")
        ),
    )


@admin.register(DestructionCertificate)
class DestructionCertificateAdmin(ReadOnlyAdmin):
    list_display = ["pk", "request", "asset_count", "issued_at", "json_sha256", "downloads"]
    fields = [
        "request",
        "issued_at",
        "issued_by",
        "asset_count",
        "json_sha256",
        "html_sha256",
        "audit_check",
        "downloads",
    ]
    readonly_fields = fields

    @admin.display(description="download")
    def downloads(self, obj):
        return _download_links(obj)

    @admin.display(description="checked against the audit trail")
    def audit_check(self, obj):
        result = certificate_check(certificate=obj)
        checkpoint = (
            f"signed checkpoint #{result['checkpoint']}"
            if result["checkpoint"]
            else "no signed checkpoint covers it yet"
        )
        verdict = "digests match audit event" if result["ok"] else "DOES NOT MATCH"
        return f"{verdict} #{result['audit_event']}; {checkpoint}"

    def get_urls(self):
        return [
            path(
                "<int:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="retention_destructioncertificate_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, object_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        certificate = get_object_or_404(DestructionCertificate, pk=object_id)
        fmt = "html" if request.GET.get("as") == "html" else "json"
        text = certificate.json_text if fmt == "json" else certificate.html_text
        kind = "application/json" if fmt == "json" else "text/html"
        # The bytes as issued, so the file's SHA-256 is the one in the audit trail.
        response = HttpResponse(text.encode("utf-8"), content_type=f"{kind}; charset=utf-8")
        name = f"certificate-of-destruction-{certificate.pk}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class DestructionCertificateInline(admin.TabularInline):
    """The certificates on a disposition's page, each with its downloads."""

    model = DestructionCertificate
    extra = 0
    can_delete = False
    fields = ["issued_at", "asset_count", "json_sha256", "downloads"]
    readonly_fields = fields
    verbose_name = "certificate of destruction"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="download")
    def downloads(self, obj):
        return _download_links(obj)
