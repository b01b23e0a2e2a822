"""Clean-dataset releases in the admin: the list, a publish form, the notice, an action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from archive.admin import ReadOnlyAdmin
from archive.errors import ArchiveError
from archive.models import Collection
from dedup.models import DatasetRelease
from dedup.releases.notice import notice_html
from dedup.releases.services import PERMISSION, dataset_release


class PublishForm(forms.Form):
    collections = forms.ModelMultipleChoiceField(
        queryset=Collection.objects.order_by("name"), widget=forms.CheckboxSelectMultiple
    )
    dataset = forms.CharField(
        max_length=200, required=False, help_text="Default: the collection names joined by ' + '."
    )
    format = forms.ChoiceField(choices=DatasetRelease.Format.choices, initial="ocfl")


def _collections_of(release: DatasetRelease) -> list[Collection]:
    return list(Collection.objects.filter(pk__in=[c["id"] for c in release.scope]))


@admin.register(DatasetRelease)
class DatasetReleaseAdmin(ReadOnlyAdmin):
    list_display = [
        "dataset",
        "version",
        "format",
        "released_at",
        "actor_name",
        "files",
        "left_out_count",
        "written",
        "notice_link",
    ]
    list_filter = ["format", "dataset"]
    search_fields = ["dataset"]
    readonly_fields = [
        "dataset",
        "version",
        "format",
        "scope",
        "released_at",
        "actor_name",
        "output",
        "manifest_sha256",
        "written_at",
        "notice_link",
        "left_out",
    ]
    fields = readonly_fields
    actions = ["publish_next"]
    change_list_template = "admin/dedup/datasetrelease/change_list.html"

    @admin.display(description="files")
    def files(self, obj):
        return obj.file_count

    @admin.display(description="left out")
    def left_out_count(self, obj):
        return len(obj.left_out)

    @admin.display(boolean=True, description="written")
    def written(self, obj):
        return obj.written_at is not None

    @admin.display(description="notice")
    def notice_link(self, obj):
        url = reverse("admin:dedup_datasetrelease_notice", args=[obj.pk])
        return format_html('<a href="{}">HTML</a> · <a href="{}?format=json">JSON</a>', url, url)

    def has_publish_permission(self, request):
        return request.user.has_perm(PERMISSION)

    @admin.action(permissions=["publish"], description="Publish the next release of these datasets")
    def publish_next(self, request, queryset):
        latest = {}
        for release in queryset.order_by("dataset", "version"):
            latest[release.dataset] = release
        for release in latest.values():
            self._publish(
                request,
                collections=_collections_of(release),
                dataset=release.dataset,
                release_format=release.format,
            )

    def _publish(self, request, **kwargs) -> DatasetRelease | None:
        try:
            release = dataset_release(actor=request.user, **kwargs)
        except (ArchiveError, OSError) as exc:
            self.message_user(request, getattr(exc, "message", str(exc)), messages.ERROR)
            return None
        self.message_user(
            request,
            f"Published {release} ({len(release.items)} files, {len(release.left_out)} records "
            f"left out) to {release.output}.",
            messages.SUCCESS,
        )
        return release

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("publish/", view(self.publish_view), name="dedup_datasetrelease_publish"),
            path(
                "<int:object_id>/notice/",
                view(self.notice_view),
                name="dedup_datasetrelease_notice",
            ),
            *super().get_urls(),
        ]

    def publish_view(self, request):
        if not self.has_publish_permission(request):
            raise PermissionDenied
        form = PublishForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            release = self._publish(
                request,
                collections=list(form.cleaned_data["collections"]),
                dataset=form.cleaned_data["dataset"],
                release_format=form.cleaned_data["format"],
            )
            if release is not None:
                return redirect("admin:dedup_datasetrelease_change", release.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Publish a clean-dataset release",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/dedup/release_publish.html", context)

    def notice_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        release = get_object_or_404(DatasetRelease, pk=object_id)
        if request.GET.get("format") == "json":
            return JsonResponse(release.notice, json_dumps_params={"indent": 2})
        return HttpResponse(notice_html(release.notice))
