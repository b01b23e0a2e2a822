"""Retention in the admin: quarantine, disposition, policies, moves, fixity, the dashboard.

Every action calls the same services (and so the same guard) as the commands and jobs;
no retention screen offers the built-in bulk delete.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from archive.admin import MomentFieldListFilter, ReadOnlyAdmin, thumbnail_html
from archive.errors import ArchiveError
from retention.admin_campaigns import DestructionCertificateInline
from retention.fixity import fixity_asset_check, fixity_failing_assets
from retention.guard import disposition_request_preview, purge_preview
from retention.models import (
    DispositionItem,
    DispositionRequest,
    FixityCheck,
    PendingMove,
    QuarantineRecord,
    RetentionPolicy,
)
from retention.moves import moves_resume
from retention.policies import POLICY_FIELDS, policy_change, policy_create
from retention.purge import (
    disposition_execute,
    disposition_request_approve,
    disposition_request_create,
)
from retention.selectors import storage_dashboard
from retention.services import asset_restore


class ServiceOnlyAdmin(ReadOnlyAdmin):
    """Rows written by services only: no add, edit or delete here, no bulk delete."""

    def report(self, request, label, call) -> None:
        """Run one service call for one row and tell the user how it went."""
        try:
            outcome = call()
        except ArchiveError as exc:
            self.message_user(request, f"{label}: {exc.message}", messages.ERROR)
        else:
            self.message_user(request, f"{label}: {outcome}", messages.SUCCESS)


class QuarantineStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "In quarantine"), ("restored", "Restored"), ("purged", "Purged")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(restored_at__isnull=True, purged_at__isnull=True)
        if self.value() == "restored":
            return queryset.filter(restored_at__isnull=False)
        if self.value() == "purged":
            return queryset.filter(purged_at__isnull=False)
        return queryset


@admin.register(QuarantineRecord)
class QuarantineRecordAdmin(ServiceOnlyAdmin):
    list_display = [
        "thumbnail",
        "asset",
        "reason",
        "quarantined_at",
        "restore_deadline",
        "days_left",
        "restored_at",
        "purged_at",
    ]
    list_filter = [QuarantineStatusFilter]
    search_fields = ["asset__original_filename", "asset__sha256", "reason"]
    list_select_related = ["asset"]
    actions = ["restore", "request_disposition"]

    def has_restore_permission(self, request):
        return request.user.has_perm("retention.restore_asset")

    def has_request_disposition_permission(self, request):
        return request.user.has_perm("retention.request_disposition")

    @admin.display(description="")
    def thumbnail(self, obj):
        return thumbnail_html(obj.asset)

    @admin.display(description="window")
    def days_left(self, obj):
        if not obj.is_open:
            return "–"
        left = obj.restore_deadline - timezone.now()
        return "closed" if left.total_seconds() <= 0 else f"{left.days} days left"

    @admin.action(description="Restore selected assets", permissions=["restore"])
    def restore(self, request, queryset):
        def restore_one(record):
            asset_restore(asset=record.asset, actor=request.user, reason="restored in admin")
            return "restored"

        for record in queryset.filter(restored_at__isnull=True, purged_at__isnull=True):
            self.report(request, str(record.asset), lambda r=record: restore_one(r))

    @admin.action(
        description="Request disposition (purge) of selected assets…",
        permissions=["request_disposition"],
    )
    def request_disposition(self, request, queryset):
        records = list(queryset.filter(restored_at__isnull=True, purged_at__isnull=True))
        assets = [record.asset for record in records]
        form = DispositionReasonForm(request.POST if "apply" in request.POST else None)
        if assets and form.is_valid():

            def file_request():
                filed = disposition_request_create(
                    assets=assets, reason=form.cleaned_data["reason"], actor=request.user
                )
                return f"request {filed.pk} filed; a second person must approve it"

            self.report(request, f"{len(assets)} asset(s)", file_request)
            return None
        if not assets:
            self.message_user(request, "None of these is in quarantine.", messages.WARNING)
            return None
        hidden = [("action", "request_disposition"), ("apply", "1")]
        hidden += [(ACTION_CHECKBOX_NAME, record.pk) for record in records]
        return disposition_page(
            self,
            request,
            title="Request the disposition (purge) of quarantined assets",
            intro="A second person with the approval permission must approve the request; "
            "each asset is then purged once its restore window has closed, if nothing below "
            "stands in the way. Say why these assets should go.",
            previews=purge_preview(assets=assets),
            form=form,
            hidden=hidden,
            buttons=[("confirm", "File the request")],
            cancel_url=reverse("admin:retention_quarantinerecord_changelist"),
        )


class DispositionReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class DispositionApproveForm(forms.Form):
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Optional: recorded with the approval in the audit trail.",
    )


def disposition_page(model_admin, request, *, title, previews, form, **context):
    """The request and approval pages: every asset with what the guard says of its purge."""
    blocked = sum(1 for preview in previews if not preview.clear)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "previews": previews,
        "blocked": blocked,
        "form": form,
        **context,
    }
    return TemplateResponse(request, "admin/retention/disposition_form.html", context)


class DispositionItemInline(admin.TabularInline):
    model = DispositionItem
    fields = ["asset", "executed_at", "outcome"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DispositionRequest)
class DispositionRequestAdmin(ServiceOnlyAdmin):
    change_form_template = "admin/retention/dispositionrequest/change_form.html"
    list_display = [
        "pk",
        "status",
        "reason",
        "asset_count",
        "requested_by",
        "requested_at",
        "approved_by",
        "approved_at",
        "executed_at",
    ]
    list_filter = [("approved_at", MomentFieldListFilter), ("executed_at", MomentFieldListFilter)]
    inlines = [DispositionItemInline, DestructionCertificateInline]
    actions = ["approve", "execute"]

    def has_approve_permission(self, request):
        return request.user.has_perm("retention.approve_disposition")

    def has_execute_permission(self, request):
        return request.user.has_perm("retention.execute_disposition")

    @admin.display(description="assets")
    def asset_count(self, obj):
        return obj.items.count()

    def get_urls(self):
        return [
            path(
                "<int:pk>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="retention_dispositionrequest_approve",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        disposition = DispositionRequest.objects.filter(pk=object_id).first()
        extra_context = extra_context or {}
        if disposition is not None and disposition.executed_at is None:
            extra_context["previews"] = disposition_request_preview(request=disposition)
            if disposition.approved_at is None and self.has_approve_permission(request):
                extra_context["approve_url"] = reverse(
                    "admin:retention_dispositionrequest_approve", args=[disposition.pk]
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def _approve(self, request, dispositions, reason: str) -> None:
        def approve_one(disposition):
            disposition_request_approve(request=disposition, actor=request.user, reason=reason)
            return "approved"

        for disposition in dispositions:
            self.report(request, f"Request {disposition.pk}", lambda d=disposition: approve_one(d))

    def _approve_page(self, request, dispositions, form, *, hidden, cancel_url):
        previews = [p for d in dispositions for p in disposition_request_preview(request=d)]
        return disposition_page(
            self,
            request,
            title="Approve " + ", ".join(f"disposition request {d.pk}" for d in dispositions),
            intro="Approving lets these assets be purged once their restore windows close. "
            "Anything listed as standing in the way still refuses the purge when it runs.",
            requests=dispositions,
            previews=previews,
            form=form,
            hidden=hidden,
            buttons=[("confirm", "Approve")],
            cancel_url=cancel_url,
        )

    def approve_view(self, request, pk):
        if not self.has_approve_permission(request):
            raise PermissionDenied
        disposition = get_object_or_404(DispositionRequest, pk=pk)
        change_url = reverse("admin:retention_dispositionrequest_change", args=[pk])
        form = DispositionApproveForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            self._approve(request, [disposition], form.cleaned_data["reason"])
            return HttpResponseRedirect(change_url)
        return self._approve_page(request, [disposition], form, hidden=[], cancel_url=change_url)

    @admin.action(description="Approve selected requests…", permissions=["approve"])
    def approve(self, request, queryset):
        dispositions = list(queryset.order_by("pk"))
        form = DispositionApproveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._approve(request, dispositions, form.cleaned_data["reason"])
            return None
        hidden = [("action", "approve"), ("apply", "1")]
        hidden += [(ACTION_CHECKBOX_NAME, d.pk) for d in dispositions]
        cancel_url = reverse("admin:retention_dispositionrequest_changelist")
        return self._approve_page(request, dispositions, form, hidden=hidden, cancel_url=cancel_url)

    @admin.action(description="Execute selected approved requests", permissions=["execute"])
    def execute(self, request, queryset):
        def execute_one(disposition):
            outcomes = disposition_execute(request=disposition, actor=request.user)
            return "; ".join(f"asset {pk}: {outcome}" for pk, outcome in outcomes.items())

        for disposition in queryset:
            self.report(request, f"Request {disposition.pk}", lambda d=disposition: execute_one(d))


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "version",
        "is_current",
        "role",
        "published",
        "replaced",
        "collection",
        "keep_forever",
        "cold_after_days",
        "quarantine_window_days",
        "purge_after_window",
        "created_by",
        "created_at",
    ]
    list_filter = ["is_current", "keep_forever", "purge_after_window"]
    search_fields = ["key", "name"]
    fields = ["key", *POLICY_FIELDS, "reason"]

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # Old versions are the record of what applied; only the current one is edited.
        if obj is not None and not obj.is_current:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("reason", "")
        try:
            if change:
                changes = {n: form.cleaned_data[n] for n in form.changed_data if n in POLICY_FIELDS}
                saved = policy_change(
                    policy=RetentionPolicy.objects.get(pk=obj.pk),
                    actor=request.user,
                    reason=reason,
                    **changes,
                )
            else:
                fields = {name: form.cleaned_data[name] for name in POLICY_FIELDS}
                saved = policy_create(key=obj.key, actor=request.user, reason=reason, **fields)
        except ArchiveError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            raise
        # The admin's redirect and messages then name the version just written.
        obj.pk, obj.version = saved.pk, saved.version

    def get_urls(self):
        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="retention_dashboard",
            ),
            *super().get_urls(),
        ]

    def dashboard_view(self, request):
        if not request.user.has_perm("retention.view_storage_dashboard"):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Storage dashboard",
            "data": storage_dashboard(),
        }
        return TemplateResponse(request, "admin/retention/dashboard.html", context)


@admin.register(PendingMove)
class PendingMoveAdmin(ServiceOnlyAdmin):
    list_display = [
        "pk",
        "asset",
        "kind",
        "step",
        "from_alias",
        "to_alias",
        "created_at",
        "completed_at",
        "attempts",
        "error",
    ]
    list_filter = ["step", "kind"]
    search_fields = ["asset__sha256", "from_key"]
    actions = ["resume"]

    def has_resume_permission(self, request):
        return request.user.has_perm("retention.move_asset")

    @admin.action(description="Resume interrupted moves now", permissions=["resume"])
    def resume(self, request, queryset):
        self.report(request, "resume", lambda: str(moves_resume()))


class LatestFailedFilter(admin.SimpleListFilter):
    title = "alert"
    parameter_name = "alert"

    def lookups(self, request, model_admin):
        return [("failing", "Assets failing now (latest check failed)")]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(ok=False, asset__in=fixity_failing_assets().values("pk"))
        return queryset


@admin.register(FixityCheck)
class FixityCheckAdmin(ServiceOnlyAdmin):
    list_display = ["asset", "result", "checked_at", "storage_alias", "storage_key", "error"]
    list_filter = [LatestFailedFilter, "ok", "storage_alias"]
    search_fields = ["asset__sha256", "asset__original_filename"]
    list_select_related = ["asset"]
    actions = ["check_again"]

    def has_check_again_permission(self, request):
        return request.user.has_perm("retention.view_fixitycheck")

    @admin.display(description="result")
    def result(self, obj):
        if obj.ok:
            return "ok"
        return format_html('<strong style="color:{}">FAILED</strong>', "#ba2121")

    @admin.action(description="Check these assets again now", permissions=["check_again"])
    def check_again(self, request, queryset):
        def check_one(asset):
            result = fixity_asset_check(asset=asset)
            if result is None:
                return "moved meanwhile; the next batch checks it"
            return "ok" if result.ok else f"FAILED: {result.error}"

        for check in queryset.select_related("asset"):
            self.report(request, str(check.asset), lambda a=check.asset: check_one(a))

    def changelist_view(self, request, extra_context=None):
        failing = fixity_failing_assets().count()
        if failing:
            url = reverse("admin:retention_fixitycheck_changelist") + "?alert=failing"
            self.message_user(
                request,
                format_html(
                    '{} asset(s) failed their latest fixity check: <a href="{}">show them</a>. '
                    "Nothing is repaired automatically.",
                    failing,
                    url,
                ),
                messages.ERROR,
            )
        return super().changelist_view(request, extra_context)
