"""API for assets: list, retrieve, upload. Thin views; every write calls a service."""

from django.apps import apps
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response

from archive.errors import ArchiveError
from archive.ingest import EntryMetadata, IngestStatus, asset_ingest
from archive.models import Asset
from archive.services import collection_get_or_create
from config.api import Pagination, error_body


class ModelPermissions(DjangoModelPermissions):
    """Model permissions, reading included: roles without view_asset see nothing."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": ["%(app_label)s.view_%(model_name)s"]}


class AssetOutput(serializers.ModelSerializer):
    collection = serializers.CharField(source="collection.name")
    file_url = serializers.SerializerMethodField()
    fingerprint = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id",
            "sha256",
            "size",
            "format",
            "width",
            "height",
            "colour_mode",
            "frame_count",
            "state",
            "role",
            "derived_from",
            "storage_alias",
            "collection",
            "original_path",
            "original_filename",
            "ingested_at",
            "exif",
            "file_url",
            "fingerprint",
        ]

    def get_file_url(self, asset) -> str:
        return f"/assets/{asset.pk}/file/"

    def get_fingerprint(self, asset) -> dict | None:
        fingerprint = getattr(asset, "fingerprint", None)
        if fingerprint is None:
            return None
        mask = (1 << 64) - 1
        return {
            "phash": None if fingerprint.phash is None else f"{fingerprint.phash & mask:016x}",
            "dhash": None if fingerprint.dhash is None else f"{fingerprint.dhash & mask:016x}",
            "low_information": fingerprint.low_information,
            "hash_version": fingerprint.hash_version,
            "error": fingerprint.error,
        }


class AssetFilter(filters.FilterSet):
    collection = filters.CharFilter(field_name="sources__collection__name", distinct=True)
    state = filters.ChoiceFilter(choices=Asset.State.choices)
    role = filters.ChoiceFilter(choices=Asset.Role.choices)
    published = filters.BooleanFilter(method="filter_published")
    duplicate_kind = filters.ChoiceFilter(
        method="filter_duplicate_kind",
        choices=[(k, k) for k in ("exact", "pixel", "derivative", "similar")],
        help_text="assets in a candidate pair of this kind",
    )

    class Meta:
        model = Asset
        fields = ["collection", "state", "role", "format", "published", "duplicate_kind"]

    def filter_published(self, queryset, name, value):
        published = Q(entries__published=True)
        return queryset.filter(published).distinct() if value else queryset.exclude(published)

    def filter_duplicate_kind(self, queryset, name, value):
        # Looked up through the app registry: the archive never imports its child apps.
        candidates = apps.get_model("dedup", "DuplicateCandidate").objects.filter(kind=value)
        involved = candidates.filter(Q(asset_a=OuterRef("pk")) | Q(asset_b=OuterRef("pk")))
        return queryset.filter(Exists(involved))


class AssetDetailApi(RetrieveAPIView):
    queryset = Asset.objects.select_related("collection", "fingerprint")
    serializer_class = AssetOutput
    permission_classes = [ModelPermissions]


class AssetListApi(ListAPIView):
    """List assets (GET) or upload one image (POST); the same bytes again answer 200."""

    queryset = Asset.objects.select_related("collection", "fingerprint").order_by("-pk")
    serializer_class = AssetOutput
    filterset_class = AssetFilter
    pagination_class = Pagination
    permission_classes = [ModelPermissions]
    parser_classes = [MultiPartParser]

    class UploadInputSerializer(serializers.Serializer):
        file = serializers.FileField()
        collection = serializers.CharField(max_length=200)
        path = serializers.CharField(
            max_length=1024, required=False, help_text="the file's path on the sending system"
        )
        title = serializers.CharField(max_length=500, required=False, default="")
        description = serializers.CharField(required=False, default="")
        accession_number = serializers.CharField(max_length=100, required=False, default="")
        creator = serializers.CharField(max_length=300, required=False, default="")
        published = serializers.BooleanField(required=False, default=False)

    class UploadOutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=[s.value for s in IngestStatus])
        asset = AssetOutput()
        entry = serializers.IntegerField(allow_null=True)
        possible_duplicates = serializers.ListField(child=serializers.IntegerField())

    @extend_schema(
        request={"multipart/form-data": UploadInputSerializer},
        responses={
            201: UploadOutputSerializer,
            200: UploadOutputSerializer,
            413: OpenApiResponse(description="file too large"),
            422: OpenApiResponse(description="not a storable image"),
        },
    )
    def post(self, request):
        data = self.UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values["file"]
        if upload.size > settings.KEEPSAKE_MAX_UPLOAD_BYTES:
            raise ArchiveError(
                f"{upload.name}: {upload.size} bytes exceeds the upload limit "
                f"of {settings.KEEPSAKE_MAX_UPLOAD_BYTES} bytes.",
                code="too_large",
            )
        collection = collection_get_or_create(name=values["collection"], actor=request.user)
        metadata = EntryMetadata(
            title=values["title"],
            description=values["description"],
            accession_number=values["accession_number"],
            creator=values["creator"],
        )
        outcome = asset_ingest(
            fp=upload,
            path=values.get("path") or upload.name,
            collection=collection,
            actor=request.user,
            metadata=metadata,
            published=values["published"],
        )
        if outcome.status == IngestStatus.REJECTED:
            if outcome.reason.startswith("invalid metadata"):
                return Response(
                    error_body(code="invalid", message=outcome.reason),
                    status=status.HTTP_400_BAD_REQUEST,
                )
            return Response(
                error_body(code="invalid_image", message=outcome.reason),
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        body = self.UploadOutputSerializer(
            {
                "status": outcome.status.value,
                "asset": outcome.asset,
                "entry": outcome.entry.pk if outcome.entry else None,
                "possible_duplicates": outcome.findings.get("possible_duplicates", []),
            }
        ).data
        created = outcome.status == IngestStatus.NEW
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
