"""API for duplicate candidates and the duplication report; reads only for now."""

from django.db.models import Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from archive.apis import ModelPermissions
from config.api import Pagination
from dedup.models import DuplicateCandidate
from dedup.report import report_build
from dedup.services import near_distance


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

    class Meta:
        model = DuplicateCandidate
        fields = ["kind", "status", "collection"]

    def filter_collection(self, queryset, name, value):
        return queryset.filter(
            Q(asset_a__sources__collection__name=value)
            | Q(asset_b__sources__collection__name=value)
        ).distinct()


class CandidateListApi(ListAPIView):
    queryset = DuplicateCandidate.objects.order_by("kind", "phash_distance", "pk")
    serializer_class = CandidateOutput
    filterset_class = CandidateFilter
    pagination_class = Pagination
    permission_classes = [ModelPermissions]


class CandidateDetailApi(RetrieveAPIView):
    queryset = DuplicateCandidate.objects.all()
    serializer_class = CandidateOutput
    permission_classes = [ModelPermissions]


class DuplicationReportApi(APIView):
    """The duplication report's summary (the JSON of `scan_duplicates`, without pairs)."""

    permission_classes = [ModelPermissions]
    queryset = DuplicateCandidate.objects.none()

    class ReportOutputSerializer(serializers.Serializer):
        summary = serializers.DictField()
        exact_groups = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=ReportOutputSerializer)
    def get(self, request):
        report = report_build(k=near_distance(), collection=request.query_params.get("collection"))
        data = {"summary": report["summary"], "exact_groups": report["exact_groups"]}
        return Response(self.ReportOutputSerializer(data).data)
