"""The intake queue and the web upload with its prompt ("this looks like …").

An upload through the admin that looks like an asset already held (a pixel twin or a
derivative, by the same judgement the review queue uses) is staged and its uploader sees
both side by side with three choices: use the existing record, add it as another record
of the same asset, or store it anyway. Uploads held at a collection's intake gate wait on
the same page for a curator. Every choice goes through `archive.intake.intake_decide`.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from archive.errors import ArchiveError, InvalidImage
from archive.ingest import EntryMetadata, IngestStatus, asset_ingest
from archive.intake import intake_decide, intake_may_decide
from archive.models import Asset, Collection, IntakeItem
from archive.renditions import RENDITION_SIZES, rendition_render
from archive.services import collection_get_or_create
from archive.storage import bytes_open

KIND_WORDS = {
    "pixel": "the same picture (identical pixels)",
    "derivative": "a copy made from it (resized, recompressed or cropped)",
    "similar": "a look-alike (a different photograph by the evidence)",
    "exact": "the same file",
}


class UploadForm(forms.Form):
    collection = forms.ModelChoiceField(
        Collection.objects.order_by("name"),
        required=False,
        help_text="Where the image belongs.",
    )
    new_collection = forms.CharField(
        max_length=200, required=False, help_text="Or name a new collection."
    )
    # A plain file field: the archive's own probe judges the file and records a refusal
    # with its reason, as for every other way in.
    file = forms.FileField(
        help_text="One image file (JPEG, PNG, TIFF, GIF); checked against what the archive "
        "holds before it is stored.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    title = forms.CharField(max_length=500, required=False)
    published = forms.BooleanField(
        required=False, help_text="Published images keep an archival copy for ever."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.KEEPSAKE_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"{filesizeformat(upload.size)} is more than the upload limit of "
                f"{filesizeformat(limit)}."
            )
        return upload

    def clean(self):
        data = super().clean()
        if not data.get("collection") and not (data.get("new_collection") or "").strip():
            raise forms.ValidationError("Choose a collection or name a new one.")
        return data


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Recorded with the decision in the audit trail.",
    )
    target = forms.TypedChoiceField(coerce=int, required=False, widget=forms.RadioSelect)

    def __init__(self, *args, item: IntakeItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [(m["asset"], f"asset {m['asset']}") for m in item.matches]
        self.fields["target"].label = "The existing asset"


def _facts(asset: Asset) -> list[tuple[str, str]]:
    return [
        ("Dimensions", f"{asset.width} × {asset.height} px"),
        ("File size", filesizeformat(asset.size)),
        ("Format", asset.format),
        ("Collection", asset.collection.name),
        ("State", asset.get_state_display()),
    ]


def _match_rows(item: IntakeItem) -> list[dict]:
    assets = Asset.objects.select_related("collection").in_bulk([m["asset"] for m in item.matches])
    rows = []
    for match in item.matches:
        asset = assets.get(match["asset"])
        rows.append(
            {
                **match,
                "words": KIND_WORDS.get(match["kind"], match["kind"]),
                "object": asset,
                "facts": _facts(asset) if asset else [],
                "thumb": reverse("archive:asset-rendition", args=[asset.pk, "thumb"])
                if asset
                else "",
                "link": reverse("admin:archive_asset_change", args=[asset.pk]) if asset else "",
            }
        )
    return rows


class StatusFilter(admin.SimpleListFilter):
    """The queue opens on what waits for a decision; "All" shows the decided too."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("all", "All"), *IntakeItem.Status.choices]

    def queryset(self, request, queryset):
        value = self.value() or IntakeItem.Status.WAITING
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.value() or IntakeItem.Status.WAITING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(IntakeItem)
class IntakeItemAdmin(admin.ModelAdmin):
    list_display = ["thumbnail", "path", "collection", "looks_like", "size_shown", "status"]
    list_filter = [StatusFilter, "collection", "via"]
    search_fields = ["path", "sha256"]
    list_select_related = ["collection"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra = {"upload_url": reverse("admin:archive_intakeitem_upload"), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description="")
    def thumbnail(self, item):
        url = reverse("admin:archive_intakeitem_image", args=[item.pk])
        return format_html('<img src="{}" alt="" width="80" loading="lazy">', url)

    @admin.display(description="Looks like")
    def looks_like(self, item):
        if not item.matches:
            return "—"
        best = item.matches[0]
        more = f" (+{len(item.matches) - 1} more)" if len(item.matches) > 1 else ""
        return f"asset {best['asset']}: {best['kind']}{more}"

    @admin.display(description="File size", ordering="size")
    def size_shown(self, item):
        return filesizeformat(item.size)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="archive_intakeitem_upload"),
            path(
                "<int:object_id>/decide/", wrap(self.decide_view), name="archive_intakeitem_decide"
            ),
            path(
                "<int:object_id>/image.jpg", wrap(self.image_view), name="archive_intakeitem_image"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # An item's page is its prompt: the upload beside what it looks like, and the choice.
        return self.decide_view(request, object_id)

    def _context(self, request, **context):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **context}

    # --- the web upload ------------------------------------------------------------------

    def upload_view(self, request):
        if not request.user.has_perm("archive.add_asset"):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            response = self._upload(request, form)
            if response is not None:
                return response
        return TemplateResponse(
            request,
            "admin/archive/intakeitem/upload.html",
            self._context(request, title="Upload an image", form=form),
        )

    def _upload(self, request, form):
        data = form.cleaned_data
        try:
            collection = data["collection"] or collection_get_or_create(
                name=data["new_collection"].strip(), actor=request.user
            )
        except ArchiveError as exc:
            form.add_error("new_collection", exc.message)
            return None
        upload = data["file"]
        upload.seek(0)
        outcome = asset_ingest(
            fp=upload,
            path=upload.name,
            collection=collection,
            actor=request.user,
            metadata=EntryMetadata(title=data["title"]),
            published=data["published"],
            via=IntakeItem.Via.WEB,
            hold_copies=True,
        )
        if outcome.status == IngestStatus.HELD:
            item = outcome.findings["intake_item"]
            return HttpResponseRedirect(reverse("admin:archive_intakeitem_decide", args=[item]))
        if outcome.status == IngestStatus.REJECTED:
            form.add_error("file", f"Not stored: {outcome.reason}")
            return None
        self.message_user(request, _stored_message(outcome), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:archive_asset_change", args=[outcome.asset.pk]))

    # --- the prompt and the curator's decision ---------------------------------------------

    def decide_view(self, request, object_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = get_object_or_404(IntakeItem.objects.select_related("collection"), pk=object_id)
        may_decide = intake_may_decide(item=item, actor=request.user)
        waiting = item.status == IntakeItem.Status.WAITING
        form = DecisionForm(request.POST or None, item=item)
        if request.method == "POST" and waiting:
            if not may_decide:
                raise PermissionDenied
            choice = next((c for c in IntakeItem.Choice.values if c in request.POST), None)
            if choice and form.is_valid():
                try:
                    decision = intake_decide(
                        item=item,
                        choice=choice,
                        reason=form.cleaned_data["reason"],
                        target=form.cleaned_data.get("target") or None,
                        actor=request.user,
                    )
                except ArchiveError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, decision.message, messages.SUCCESS)
                    if decision.asset is not None:
                        url = reverse("admin:archive_asset_change", args=[decision.asset.pk])
                        return HttpResponseRedirect(url)
                    return HttpResponseRedirect(reverse("admin:archive_intakeitem_changelist"))
            elif not choice:
                form.add_error(None, "Choose one of the three buttons.")
        return TemplateResponse(
            request,
            "admin/archive/intakeitem/decide.html",
            self._context(
                request,
                title="This looks like something the archive holds",
                item=item,
                upload_facts=[
                    ("Dimensions", f"{item.width} × {item.height} px"),
                    ("File size", filesizeformat(item.size)),
                    ("Format", item.format),
                    ("Collection", item.collection.name),
                    ("Title asked for", (item.entry_fields.get("metadata") or {}).get("title")),
                ],
                matches=_match_rows(item),
                form=form,
                waiting=waiting,
                may_decide=may_decide and waiting,
                choices=IntakeItem.Choice.choices,
            ),
        )

    def image_view(self, request, object_id):
        """A thumbnail of the staged upload (re-encoded: never the uploaded bytes)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = get_object_or_404(IntakeItem, pk=object_id)
        if not item.staged_key:
            if item.asset_id:
                url = reverse("archive:asset-rendition", args=[item.asset_id, "thumb"])
                return HttpResponseRedirect(url)
            raise Http404("The upload's bytes are no longer staged.")
        cache = storages["default"]
        key = f"renditions/intake/{item.sha256[:2]}/{item.sha256}-thumb.jpg"
        if not cache.exists(key):
            try:
                with bytes_open(alias=item.staged_alias, key=item.staged_key) as fp:
                    rendered = rendition_render(fp=fp, edge=RENDITION_SIZES["thumb"])
            except InvalidImage as exc:
                return HttpResponse(exc.message, status=422, content_type="text/plain")
            except OSError as exc:
                raise Http404("The upload's bytes are no longer staged.") from exc
            cache.save(key, ContentFile(rendered))
        response = FileResponse(cache.open(key, "rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=86400"
        return response


def _stored_message(outcome) -> str:
    if outcome.status == IngestStatus.NEW:
        similar = outcome.findings.get("possible_duplicates") or []
        note = (
            f" It resembles asset(s) {', '.join(map(str, similar))}; the pair is in the "
            "review queue."
            if similar
            else ""
        )
        return f"Stored as asset {outcome.asset.pk}.{note}"
    if outcome.status == IngestStatus.ATTACHED:
        return (
            f"These exact bytes are already held (asset {outcome.asset.pk}): a new record "
            "was added to it and no second copy stored."
        )
    return f"Already recorded: asset {outcome.asset.pk}."
