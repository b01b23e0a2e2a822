"""Duplicate candidates (list, decide, bulk confirm), groups of copies (list, confirm),
consolidations (undo), the report.

Decisions go through `dedup.review`, the same rules as the admin's compare screen: a pair
someone else decided meanwhile answers 409, and bulk confirmation takes exact and pixel
pairs only (the service refuses the others and says so per pair).
"""

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from archive.models import Asset
from config.api import Api, IdFilter, ListApi, Pagination, object_list
from dedup.consolidation import consolidation_undo, consolidation_undo_deadline
from dedup.models import Consolidation, DuplicateCandidate
from dedup.report import report_build
from dedup.review import (
    Decision,
    candidate_decide,
    candidates_bulk_confirm,
    canonical_suggest,
    group_confirm,
)
from dedup.selectors import review_groups


class CandidateOutput(serializers.ModelSerializer):
    class Meta:
        model = DuplicateCandidate
        fields = [
            "id",
            "asset_a",
            "asset_b",
            "kind",
            "phash_distance",
            "dhash_distance",
            "evidence",
            "status",
            "found_by",
            "created_at",
            "decided_at",
            "decided_by",
        ]


class CandidateFilter(filters.FilterSet):
    collection = filters.CharFilter(method="filter_collection")
    asset = IdFilter(method="filter_asset", help_text="pairs with this asset")

    class Meta:
        model = DuplicateCandidate
        fields = ["kind", "status", "collection", "asset"]

    def filter_collection(self, queryset, name, value):
        return queryset.filter(
            Q(asset_a__sources__collection__name=value)
            | Q(asset_b__sources__collection__name=value)
        ).distinct()

    def filter_asset(self, queryset, name, value):
        return queryset.filter(Q(asset_a=value) | Q(asset_b=value))


class CandidateListApi(ListApi):
    queryset = DuplicateCandidate.objects.none()
    filterset_class = CandidateFilter
    required_permissions = {"GET": ["dedup.view_duplicatecandidate"]}

    @extend_schema(responses=CandidateOutput(many=True))
    def get(self, request):
        queryset = DuplicateCandidate.objects.order_by("kind_rank", "phash_distance", "pk")
        return self.list_response(queryset, CandidateOutput)


class CandidateDetailApi(Api):
    required_permissions = {"GET": ["dedup.view_duplicatecandidate"]}

    @extend_schema(responses=CandidateOutput)
    def get(self, request, pk: int):
        return Response(CandidateOutput(get_object_or_404(DuplicateCandidate, pk=pk)).data)


class CandidateDecisionApi(Api):
    """Decide one pair: confirm (with the canonical to keep), not a duplicate, or defer.

    A confirmation consolidates the pair (entries repointed, the other copy quarantined);
    a pair decided by someone else meanwhile answers 409."""

    required_permissions = {"POST": ["dedup.review_duplicates"]}

    class CandidateDecisionInput(serializers.Serializer):
        decision = serializers.ChoiceField(choices=Decision.ALL)
        canonical = serializers.PrimaryKeyRelatedField(
            queryset=Asset.objects.all(),
            required=False,
            allow_null=True,
            help_text="with confirm: which asset of the pair to keep",
        )
        reason = serializers.CharField(required=False, allow_blank=True, default="")
        override = serializers.BooleanField(
            required=False,
            default=False,
            help_text="with confirm of a look-alike (similar) pair: confirm it anyway; needs a "
            "reason of at least 10 characters and is audited as an override",
        )

    class CandidateDecisionOutput(serializers.Serializer):
        candidate = CandidateOutput()
        consolidation = serializers.IntegerField(
            allow_null=True, help_text="the consolidation a confirmation made (undo it there)"
        )

    @extend_schema(request=CandidateDecisionInput, responses=CandidateDecisionOutput)
    def post(self, request, pk: int):
        candidate = get_object_or_404(DuplicateCandidate, pk=pk)
        data = self.CandidateDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        consolidation = candidate_decide(
            candidate=candidate, actor=request.user, **data.validated_data
        )
        candidate.refresh_from_db()
        body = {
            "candidate": candidate,
            "consolidation": consolidation.pk if consolidation else None,
        }
        return Response(self.CandidateDecisionOutput(body).data)


class BulkResultOutput(serializers.Serializer):
    candidate = serializers.IntegerField()
    kind = serializers.CharField()
    confirmed = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True, help_text="why the pair was left alone")


class CandidateBulkConfirmApi(Api):
    """Confirm exact and pixel pairs in bulk, each keeping its suggested canonical.

    Derivative and similar pairs are refused (a person decides each); a refusal of one pair
    (a legal hold, a licence conflict) leaves the others confirmed. The answer lists each."""

    required_permissions = {"POST": ["dedup.review_duplicates"]}

    class BulkConfirmInput(serializers.Serializer):
        candidates = object_list(
            serializers.PrimaryKeyRelatedField(
                queryset=DuplicateCandidate.objects.select_related("asset_a", "asset_b")
            ),
            max_length=500,
            allow_empty=False,
        )

    class BulkConfirmOutput(serializers.Serializer):
        confirmed = serializers.IntegerField()
        refused = serializers.IntegerField()
        results = BulkResultOutput(many=True)

    @extend_schema(request=BulkConfirmInput, responses=BulkConfirmOutput)
    def post(self, request):
        data = self.BulkConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        chosen = sorted(set(data.validated_data["candidates"]), key=lambda c: c.pk)
        outcome = candidates_bulk_confirm(candidates=chosen, actor=request.user)
        results = [
            {
                "candidate": candidate.pk,
                "kind": candidate.kind,
                "confirmed": not problem,
                "message": problem,
            }
            for candidate, problem in outcome
        ]
        confirmed = sum(result["confirmed"] for result in results)
        body = {"confirmed": confirmed, "refused": len(results) - confirmed, "results": results}
        return Response(self.BulkConfirmOutput(body).data)


class ConsolidationOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.get_username")
    undone_by = serializers.CharField(
        source="undone_by.get_username", allow_null=True, default=None
    )
    undo_deadline = serializers.SerializerMethodField()

    class Meta:
        model = Consolidation
        fields = [
            "id",
            "canonical",
            "replaced",
            "candidates",
            "reason",
            "provenance",
            "created_at",
            "created_by",
            "undo_deadline",
            "undone_at",
            "undone_by",
        ]

    def get_undo_deadline(self, consolidation) -> str | None:
        # The replaced assets' quarantine deadline; None once undone or out of quarantine.
        deadline = consolidation_undo_deadline(consolidation)
        return deadline.isoformat() if deadline else None


class ConsolidationFilter(filters.FilterSet):
    undone = filters.BooleanFilter(field_name="undone_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Consolidation
        fields = ["canonical", "undone"]


def _consolidations():
    return Consolidation.objects.select_related("created_by", "undone_by").prefetch_related(
        "replaced", "candidates"
    )


class ConsolidationListApi(ListApi):
    queryset = Consolidation.objects.none()
    filterset_class = ConsolidationFilter
    required_permissions = {"GET": ["dedup.view_consolidation"]}

    @extend_schema(responses=ConsolidationOutput(many=True))
    def get(self, request):
        return self.list_response(_consolidations().order_by("-pk"), ConsolidationOutput)


class ConsolidationDetailApi(Api):
    required_permissions = {"GET": ["dedup.view_consolidation"]}

    @extend_schema(responses=ConsolidationOutput)
    def get(self, request, pk: int):
        return Response(ConsolidationOutput(get_object_or_404(_consolidations(), pk=pk)).data)


class ConsolidationUndoApi(Api):
    """Put entries, metadata and assets back as they were, within the restore window."""

    required_permissions = {"POST": ["dedup.review_duplicates"]}

    class ConsolidationUndoInput(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=ConsolidationUndoInput, responses=ConsolidationOutput)
    def post(self, request, pk: int):
        consolidation = get_object_or_404(Consolidation, pk=pk)
        data = self.ConsolidationUndoInput(data=request.data)
        data.is_valid(raise_exception=True)
        consolidation_undo(
            consolidation=consolidation, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(ConsolidationOutput(_consolidations().get(pk=pk)).data)


class GroupOutput(serializers.Serializer):
    assets = serializers.ListField(child=serializers.IntegerField())
    candidates = serializers.ListField(child=serializers.IntegerField())
    suggested_canonical = serializers.IntegerField()
    suggestion_reason = serializers.CharField()


class GroupListApi(Api):
    """Open exact/pixel/derivative pairs joined into groups of copies, largest first.

    Look-alike (similar) pairs never join a group. Decide a whole group at once with
    `groups/confirm/`."""

    pagination_class = Pagination
    required_permissions = {"GET": ["dedup.view_duplicatecandidate"]}

    class GroupQuery(serializers.Serializer):
        min_size = serializers.IntegerField(
            min_value=2, max_value=1000, default=3, help_text="fewest copies in a group"
        )

    @extend_schema(parameters=[GroupQuery], responses=GroupOutput(many=True))
    def get(self, request):
        query = self.GroupQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        groups = review_groups(min_size=query.validated_data["min_size"])
        page = paginator.paginate_queryset(groups, request, view=self)
        assets = Asset.objects.in_bulk({pk for group in page for pk in group["assets"]})
        for group in page:
            suggestion = canonical_suggest(assets=[assets[pk] for pk in group["assets"]])
            group["suggested_canonical"] = suggestion.asset.pk
            group["suggestion_reason"] = suggestion.reason
        return paginator.get_paginated_response(GroupOutput(page, many=True).data)


class GroupConfirmApi(Api):
    """Confirm every pair of a group into one canonical copy (one consolidation).

    A pair someone else decided meanwhile answers 409 and nothing changes."""

    required_permissions = {"POST": ["dedup.review_duplicates"]}

    class GroupConfirmInput(serializers.Serializer):
        candidates = object_list(
            serializers.PrimaryKeyRelatedField(queryset=DuplicateCandidate.objects.all()),
            max_length=500,
            allow_empty=False,
        )
        canonical = serializers.PrimaryKeyRelatedField(
            queryset=Asset.objects.all(), help_text="the copy to keep: one of the group"
        )
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=GroupConfirmInput, responses=ConsolidationOutput)
    def post(self, request):
        data = self.GroupConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        consolidation = group_confirm(
            candidates=set(values["candidates"]),
            canonical=values["canonical"],
            actor=request.user,
            reason=values["reason"],
        )
        return Response(ConsolidationOutput(_consolidations().get(pk=consolidation.pk)).data)


class DuplicationReportApi(Api):
    """The duplication report's summary (the JSON of `scan_duplicates`, without pairs)."""

    required_permissions = {"GET": ["dedup.view_duplicatecandidate"]}

    class DuplicationReportQuery(serializers.Serializer):
        collection = serializers.CharField(required=False, help_text="one collection's name")

    class DuplicationReportOutput(serializers.Serializer):
        summary = serializers.DictField()
        exact_groups = serializers.ListField(child=serializers.DictField())

    @extend_schema(parameters=[DuplicationReportQuery], responses=DuplicationReportOutput)
    def get(self, request):
        query = self.DuplicationReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = report_build(collection=query.validated_data.get("collection"))
        data = {"summary": report["summary"], "exact_groups": report["exact_groups"]}
        return Response(self.DuplicationReportOutput(data).data)
