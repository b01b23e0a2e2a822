"""Clean-dataset releases over the API: list them, read one with its notice, publish the next.

Publishing calls `dedup.releases.services.dataset_release`, as the command and the admin
do; the API writes under `KEEPSAKE_RELEASES_ROOT` (one folder per dataset and format),
never at a path a client names.
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from archive.models import Collection
from config.api import Api, ErrorSerializer, ListApi, error_body, object_list
from dedup.models import DatasetRelease
from dedup.releases.services import dataset_release


class ReleaseOutput(serializers.ModelSerializer):
    files = serializers.IntegerField(source="file_count", read_only=True)
    records = serializers.IntegerField(source="record_count", read_only=True)

    class Meta:
        model = DatasetRelease
        fields = [
            "id",
            "dataset",
            "version",
            "format",
            "scope",
            "released_at",
            "actor_name",
            "output",
            "manifest_sha256",
            "files",
            "records",
            "left_out",
            "written_at",
        ]


class ReleaseDetailOutput(ReleaseOutput):
    class Meta(ReleaseOutput.Meta):
        fields = [*ReleaseOutput.Meta.fields, "items", "notice"]


class ReleaseFilter(filters.FilterSet):
    class Meta:
        model = DatasetRelease
        fields = ["dataset", "format"]


class ReleaseListApi(ListApi):
    """Releases, newest version of each dataset first; POST publishes the next release."""

    queryset = DatasetRelease.objects.none()
    filterset_class = ReleaseFilter
    required_permissions = {
        "GET": ["dedup.view_datasetrelease"],
        "POST": ["dedup.publish_release"],
    }

    class ReleaseInput(serializers.Serializer):
        collections = object_list(
            serializers.CharField(max_length=200),
            max_length=100,
            min_length=1,
            help_text="collection names",
        )
        dataset = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )
        format = serializers.ChoiceField(choices=DatasetRelease.Format.choices, default="ocfl")

        def validate_collections(self, names: list[str]) -> list[Collection]:
            names = list(dict.fromkeys(names))
            found = {c.name: c for c in Collection.objects.filter(name__in=names)}
            missing = [name for name in names if name not in found]
            if missing:
                raise serializers.ValidationError(
                    f"No collection called {', '.join(missing)}.", code="does_not_exist"
                )
            return [found[name] for name in names]

    @extend_schema(responses=ReleaseOutput(many=True))
    def get(self, request):
        queryset = DatasetRelease.objects.order_by("dataset", "-version")
        return self.list_response(queryset, ReleaseOutput)

    @extend_schema(
        request=ReleaseInput,
        responses={
            201: ReleaseDetailOutput,
            503: OpenApiResponse(ErrorSerializer, description="The files could not be written."),
        },
    )
    def post(self, request):
        data = self.ReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            release = dataset_release(
                collections=data.validated_data["collections"],
                actor=request.user,
                dataset=data.validated_data["dataset"],
                release_format=data.validated_data["format"],
            )
        except OSError as exc:
            message = f"The release was recorded but its files could not be written: {exc}"
            return Response(
                error_body(code="not_written", message=message),
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response(ReleaseDetailOutput(release).data, status=status.HTTP_201_CREATED)


class ReleaseDetailApi(Api):
    """One release: every published file with its metadata, what was left out, the notice."""

    required_permissions = {"GET": ["dedup.view_datasetrelease"]}

    @extend_schema(responses=ReleaseDetailOutput)
    def get(self, request, pk: int):
        return Response(ReleaseDetailOutput(get_object_or_404(DatasetRelease, pk=pk)).data)


# Included by config/api_urls.py.
urlpatterns = [
    path("releases/", ReleaseListApi.as_view(), name="release-list"),
    path("releases/<int:pk>/", ReleaseDetailApi.as_view(), name="release-detail"),
]
