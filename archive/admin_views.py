"""Admin pages beyond the model forms: place and release holds, compare and sign off
licences, export the audit trail. Each page checks its permission, calls one service and
reports ArchiveError back to the user."""

import tempfile

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import FilteredSelectMultiple, ManyToManyRawIdWidget
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from archive.audit_export import (
    FORMATS,
    audit_bundle_write,
    audit_export_filter_parse,
    audit_export_head,
)
from archive.errors import ArchiveError
from archive.holds import legal_hold_place, legal_hold_release
from archive.licensing import (
    licence_conflict_sign_off,
    licence_sign_off_current,
    licence_terms_compare,
)
from archive.models import Asset, CatalogueEntry, Collection, LegalHold, LicenceSignOff
from archive.selectors import legal_hold_assets


def _page(model_admin, request, template: str, **context) -> TemplateResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        **context,
    }
    return TemplateResponse(request, template, context)


def ids_param(value: str) -> list[int]:
    return sorted({int(part) for part in value.split(",") if part.strip().isdigit()})


# --- Legal holds ------------------------------------------------------------------------


class LegalHoldPlaceForm(forms.Form):
    matter_reference = forms.CharField(max_length=200)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    assets = forms.ModelMultipleChoiceField(Asset.objects.all(), required=False)
    entries = forms.ModelMultipleChoiceField(
        CatalogueEntry.objects.all(), required=False, label="Catalogue entries"
    )
    # The widget is given here, not swapped in later: a widget set after the field was made
    # has no choices, and the picker showed no collection at all.
    collections = forms.ModelMultipleChoiceField(
        Collection.objects.order_by("name"),
        required=False,
        widget=FilteredSelectMultiple("collections", False),
    )

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("assets", "entries"):
            remote = LegalHold._meta.get_field(name).remote_field
            self.fields[name].widget = ManyToManyRawIdWidget(remote, admin_site)
            self.fields[name].help_text = "Comma-separated ids; the magnifier looks them up."
        self.fields["collections"].help_text = "Freezes every asset of the collection, "
        self.fields["collections"].help_text += "including assets ingested into it later."


def legal_hold_place_view(model_admin, request):
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    initial = {"assets": ids_param(request.GET.get("assets", ""))}
    form = LegalHoldPlaceForm(
        request.POST or None, initial=initial, admin_site=model_admin.admin_site
    )
    if request.method == "POST" and form.is_valid():
        try:
            hold = legal_hold_place(**form.cleaned_data, actor=request.user)
        except ArchiveError as exc:
            form.add_error(None, exc.message)
        else:
            model_admin.message_user(request, f"Legal hold {hold} placed.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:archive_legalhold_change", args=[hold.pk]))
    return _page(
        model_admin,
        request,
        "admin/archive/form_page.html",
        title="Place a legal hold",
        intro="The hold freezes the assets named, the assets of the catalogue entries named "
        "and every asset of the collections named, with their exact and pixel twins, until "
        "it is released. Frozen assets cannot be moved, quarantined, consolidated or purged.",
        form=form,
        buttons=[("place", "Place hold")],
        cancel_url=reverse("admin:archive_legalhold_changelist"),
    )


FROZEN_PAGE_SIZE = 60


def legal_hold_frozen_page(request, hold: LegalHold):
    """One page (?page=) of the assets a hold freezes now, for its change page."""
    frozen = legal_hold_assets(hold=hold).order_by("pk")
    page = Paginator(frozen, FROZEN_PAGE_SIZE).get_page(request.GET.get("page"))
    page.elided_range = list(page.paginator.get_elided_page_range(page.number))
    return page


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


def legal_holds_release(model_admin, request, holds) -> bool:
    """Release holds with the reason posted; False while the reason is still to be asked."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if not form.is_valid():
        return False
    for hold in holds:
        try:
            legal_hold_release(hold=hold, reason=form.cleaned_data["reason"], actor=request.user)
        except ArchiveError as exc:
            model_admin.message_user(request, exc.message, messages.ERROR)
        else:
            model_admin.message_user(request, f"Legal hold {hold} released.", messages.SUCCESS)
    return True


def legal_holds_release_page(model_admin, request, holds, *, hidden, form=None):
    return _page(
        model_admin,
        request,
        "admin/archive/form_page.html",
        title="Release legal holds",
        intro="Releasing a hold unfreezes what only it was freezing. Say why.",
        items=[
            f"{h.matter_reference} (placed {h.placed_at:%Y-%m-%d} by {h.placed_by})" for h in holds
        ],
        form=form or ReasonForm(request.POST if "apply" in request.POST else None),
        hidden=[*hidden, ("apply", "1")],
        buttons=[("release", "Release")],
        cancel_url=reverse("admin:archive_legalhold_changelist"),
    )


def legal_hold_release_view(model_admin, request, object_id):
    if not model_admin.has_release_permission(request):
        raise PermissionDenied
    hold = get_object_or_404(LegalHold, pk=object_id)
    if request.method == "POST" and legal_holds_release(model_admin, request, [hold]):
        return HttpResponseRedirect(reverse("admin:archive_legalhold_change", args=[hold.pk]))
    return legal_holds_release_page(model_admin, request, [hold], hidden=[])


# --- Licences -----------------------------------------------------------------------------


class LicenceSignOffForm(ReasonForm):
    # The fingerprint of the terms the page showed: the sign-off is refused if they changed.
    terms_fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)


def licence_compare_view(model_admin, request):
    if not request.user.has_perm("archive.view_licence"):
        raise PermissionDenied
    ids = ids_param(request.GET.get("ids", ""))
    assets = list(Asset.objects.filter(pk__in=ids))
    if not assets:
        model_admin.message_user(request, "Select the assets to compare.", messages.WARNING)
        return HttpResponseRedirect(reverse("admin:archive_asset_changelist"))
    may_sign = request.user.has_perm("archive.sign_off_licence")
    form = LicenceSignOffForm(request.POST or None)
    if request.method == "POST":
        if not may_sign:
            raise PermissionDenied
        if form.is_valid():
            try:
                licence_conflict_sign_off(
                    assets=assets,
                    terms_fingerprint=form.cleaned_data["terms_fingerprint"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ArchiveError as exc:
                form.add_error(None, exc.message)
            else:
                model_admin.message_user(request, "Licence conflict signed off.", messages.SUCCESS)
                return HttpResponseRedirect(request.get_full_path())
        elif "terms_fingerprint" in form.errors:
            form.add_error(None, "Sign off from the comparison page: it names the terms shown.")
    # The page shows the terms as they are now, and its form carries their fingerprint (the
    # template writes it), so a refused sign-off can be repeated on the terms now shown.
    comparison = licence_terms_compare(assets=assets)
    signed_off = licence_sign_off_current(comparison=comparison) if comparison.conflict else None
    unresolved = comparison.conflict and signed_off is None
    return _page(
        model_admin,
        request,
        "admin/archive/licence_compare.html",
        title=f"Licences of assets {', '.join(f'#{pk}' for pk in comparison.asset_ids)}",
        comparison=comparison,
        rows=comparison.rows(),
        signed_off=signed_off,
        unresolved=unresolved,
        form=form if unresolved and may_sign else None,
        refused=form.non_field_errors() if form.is_bound and not unresolved else None,
        history=LicenceSignOff.objects.filter(group_key=comparison.group_key).select_related(
            "signed_by"
        ),
    )


# --- Audit export -------------------------------------------------------------------------


class AuditExportForm(forms.Form):
    since = forms.CharField(required=False, help_text="ISO date or date-time, inclusive")
    until = forms.CharField(required=False, help_text="ISO date or date-time, exclusive")
    actor = forms.CharField(required=False, help_text="user name as recorded")
    object = forms.CharField(required=False, help_text="archive.asset or archive.asset:7")
    verb = forms.CharField(required=False, help_text='a verb, or a prefix ending in "*"')
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="csv")
    upto = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def filters(self):
        data = self.cleaned_data
        return audit_export_filter_parse(
            since=data["since"],
            until=data["until"],
            actor=data["actor"],
            obj=data["object"],
            verb=data["verb"],
            strict=True,
        )


def audit_public_key_view(model_admin, request):
    """The archive's public key (PEM), to give recipients of exports and to publish."""
    from django.http import HttpResponse

    from archive.checkpoints import signing_key

    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        pem = signing_key().public_pem()
    except ArchiveError as exc:
        return HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="keepsake-audit-public-key.pem"'
    return response


def audit_export_view(model_admin, request):
    """The export form; its button downloads one zip: the events, their proofs, the manifest.

    Only a POST exports: the download writes an audit event, and a GET can be made by a
    link or an image on any site the officer visits; the POST carries the CSRF token.
    """
    if not request.user.has_perm("archive.export_audit"):
        raise PermissionDenied
    wanted = request.method == "POST" and "download" in request.POST
    initial = {"upto": audit_export_head()[0], "format": "csv"}
    form = AuditExportForm(request.POST if wanted else None, initial=initial)
    if wanted and form.is_valid():
        # A temporary file, not memory: an export of the whole trail can be large.
        spool = tempfile.TemporaryFile()
        try:
            result = audit_bundle_write(
                fp=spool,
                filters=form.filters(),
                fmt=form.cleaned_data["format"],
                actor=request.user,
            )
        except ArchiveError as exc:
            spool.close()
            form.add_error(None, exc.message)
        else:
            spool.seek(0)
            return FileResponse(
                spool, as_attachment=True, filename=result.name, content_type="application/zip"
            )
    return _page(
        model_admin,
        request,
        "admin/archive/form_page.html",
        title="Export the audit trail",
        intro="Seals the trail and downloads one zip: the events the filters select, a stub "
        "for each event they leave out, an inclusion proof per event and the archive's "
        "signed checkpoint. Anyone can check it with archive/verifier.py and the archive's "
        "public key (Checkpoints → public key, or `manage.py seal_audit --public-key`), or "
        "`manage.py verify_audit --file`.",
        form=form,
        buttons=[("download", "Download export (zip)")],
        cancel_url=reverse("admin:archive_auditevent_changelist"),
    )
