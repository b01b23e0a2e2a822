"""The compare screen: both images side by side, the evidence, the records, the decision."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from archive.errors import ArchiveError
from archive.licensing import licence_terms_compare
from archive.models import Asset
from archive.selectors import asset_active_holds
from dedup.models import DuplicateCandidate
from dedup.review import (
    OPEN,
    Decision,
    candidate_decide,
    canonical_suggest,
    evidence_qualities,
    group_resolve,
)
from dedup.screens import evidence_groups, pair_summary, pair_warnings, sides_build
from dedup.selectors import review_groups, review_next


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(d, d) for d in Decision.ALL])
    canonical = forms.IntegerField(required=False)
    reason = forms.CharField(required=False, max_length=500)
    override = forms.BooleanField(required=False)


def _decide(model_admin, request, candidate, form):
    data = form.cleaned_data
    canonical = None
    if data["canonical"] in (candidate.asset_a_id, candidate.asset_b_id):
        canonical = Asset.objects.get(pk=data["canonical"])
    try:
        candidate_decide(
            candidate=candidate,
            decision=data["decision"],
            actor=request.user,
            canonical=canonical,
            reason=data["reason"],
            override=data["override"],
        )
    except ArchiveError as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())
    model_admin.message_user(
        request,
        f"Pair {candidate.asset_a_id} ~ {candidate.asset_b_id}: "
        f"{data['decision'].replace('_', ' ')}.",
        messages.SUCCESS,
    )
    following = review_next(after_id=candidate.pk)
    if following is None:
        return HttpResponseRedirect(reverse("admin:dedup_duplicatecandidate_changelist"))
    return HttpResponseRedirect(
        reverse("admin:dedup_duplicatecandidate_compare", args=[following.pk])
    )


def compare_view(model_admin, request, object_id):
    candidate = get_object_or_404(
        DuplicateCandidate.objects.select_related("asset_a", "asset_b", "decided_by"), pk=object_id
    )
    if not model_admin.has_view_permission(request, candidate):
        raise PermissionDenied
    may_decide = request.user.has_perm("dedup.review_duplicates")
    if request.method == "POST":
        if not may_decide:
            raise PermissionDenied
        form = DecisionForm(request.POST)
        if form.is_valid():
            return _decide(model_admin, request, candidate, form)
    similar = candidate.kind == DuplicateCandidate.Kind.SIMILAR
    # A look-alike gets no suggested canonical: nothing should make confirming it easy.
    suggestion = (
        None
        if similar
        else canonical_suggest(
            assets=[candidate.asset_a, candidate.asset_b],
            qualities=evidence_qualities(candidates=[candidate]),
        )
    )
    licences = licence_terms_compare(assets=[candidate.asset_a, candidate.asset_b])
    following = review_next(after_id=candidate.pk)
    licence_url = (
        reverse("admin:archive_asset_licences")
        + f"?ids={candidate.asset_a_id},{candidate.asset_b_id}"
    )
    sides = sides_build(
        [candidate.asset_a, candidate.asset_b], lambda a: asset_active_holds(asset=a)
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Compare pair {candidate.asset_a_id} ~ {candidate.asset_b_id}",
        "candidate": candidate,
        "similar": similar,
        "summary": pair_summary(
            kind=candidate.kind,
            evidence=candidate.evidence,
            asset_a=candidate.asset_a,
            asset_b=candidate.asset_b,
        ),
        "sides": sides,
        "warnings": pair_warnings(sides=sides, licences=licences, licence_url=licence_url),
        "suggestion": suggestion,
        "evidence_groups": evidence_groups(candidate.evidence),
        "licences": licences,
        "licence_rows": licences.rows(),
        "licence_url": licence_url,
        "hold_url": reverse("admin:archive_legalhold_add")
        + f"?assets={candidate.asset_a_id},{candidate.asset_b_id}"
        if request.user.has_perm("archive.place_legal_hold")
        else "",
        "is_open": candidate.status in OPEN,
        "may_decide": may_decide,
        "next_url": reverse("admin:dedup_duplicatecandidate_compare", args=[following.pk])
        if following
        else "",
        "queue_url": reverse("admin:dedup_duplicatecandidate_changelist"),
    }
    return TemplateResponse(request, "admin/dedup/compare.html", context)


def next_view(model_admin, request):
    following = review_next()
    if following is None:
        model_admin.message_user(request, "The queue is empty.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:dedup_duplicatecandidate_changelist"))
    return HttpResponseRedirect(
        reverse("admin:dedup_duplicatecandidate_compare", args=[following.pk])
    )


def groups_view(model_admin, request):
    """Groups of three or more copies joined by exact/pixel/derivative pairs, one decision each."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    may_decide = request.user.has_perm("dedup.review_duplicates")
    if request.method == "POST":
        if not may_decide:
            raise PermissionDenied
        return _group_decide(model_admin, request)
    groups = review_groups()
    assets = Asset.objects.in_bulk({a for g in groups for a in g["assets"]})
    shown = []
    for group in groups[:50]:
        members = [assets[a] for a in group["assets"]]
        shown.append(
            {
                "members": members,
                "candidates": group["candidates"],
                "suggestion": canonical_suggest(assets=members),
            }
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Duplicate groups",
        "groups": shown,
        "total": len(groups),
        "may_decide": may_decide,
        "queue_url": reverse("admin:dedup_duplicatecandidate_changelist"),
    }
    return TemplateResponse(request, "admin/dedup/groups.html", context)


def _group_decide(model_admin, request):
    ids = [int(i) for i in request.POST.getlist("candidates") if i.isdigit()]
    canonical = Asset.objects.filter(pk=request.POST.get("canonical", "0") or 0).first()
    candidates = list(DuplicateCandidate.objects.filter(pk__in=ids))
    try:
        if canonical is None or len(candidates) != len(ids):
            raise ArchiveError("Choose the canonical copy of the group.", code="invalid")
        separate = [int(i) for i in request.POST.getlist("separate") if i.isdigit()]
        group_resolve(
            candidates=candidates,
            canonical=canonical,
            separate=separate,
            actor=request.user,
            reason=request.POST.get("reason", ""),
        )
    except ArchiveError as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)
    else:
        model_admin.message_user(
            request,
            f"Group decided: asset {canonical.pk} kept, the copies marked trash consolidated "
            "into it, the copies kept separately marked not a duplicate.",
            messages.SUCCESS,
        )
    return HttpResponseRedirect(reverse("admin:dedup_duplicatecandidate_groups"))
