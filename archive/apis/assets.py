"""Assets: list, retrieve and upload. Thin views; every write calls a service."""

import hashlib
import json

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from archive import hooks
from archive.apis.intake import IntakeMatchOutput
from archive.errors import ArchiveError
from archive.ingest import EntryMetadata, IngestStatus, asset_ingest
from archive.models import ApiIdempotencyKey, Asset
from archive.selectors import assets_frozen_among, frozen_asset_ids
from archive.services import collection_get_or_create
from config.api import Api, ListApi, error_body


class FingerprintOutput(serializers.Serializer):
    phash = serializers.CharField(allow_null=True, help_text="64-bit pHash, hexadecimal")
    dhash = serializers.CharField(allow_null=True, help_text="64-bit dHash, hexadecimal")
    low_information = serializers.BooleanField()
    hash_version = serializers.CharField()
    error = serializers.CharField(allow_blank=True)


class AssetOutput(serializers.ModelSerializer):
    """An asset; `held` needs the ids of frozen assets in the context (`held`)."""

    collection = serializers.CharField(source="collection.name")
    replaced_by = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="the canonical asset this one was consolidated into; null if not replaced",
    )
    held = serializers.SerializerMethodField(help_text="frozen by an active legal hold")
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
            "replaced_by",
            "held",
            "storage_alias",
            "collection",
            "original_path",
            "original_filename",
            "ingested_at",
            "exif",
            "file_url",
            "fingerprint",
        ]

    def get_held(self, asset) -> bool:
        return asset.pk in self.context.get("held", ())

    def get_file_url(self, asset) -> str:
        return f"/assets/{asset.pk}/file/"

    @extend_schema_field(FingerprintOutput(allow_null=True))
    def get_fingerprint(self, asset):
        # Contributed by the dedup app through hooks.asset_facts (see held_context).
        return self.context.get("facts", {}).get(asset.pk, {}).get("fingerprint")


def held_context(assets) -> dict:
    """The serializer context of a page of assets: which are frozen, and the child apps'
    facts about them (one query per contributing app)."""
    ids = [asset.pk for asset in assets]
    facts: dict[int, dict] = {}
    for contribute in hooks.asset_facts:
        for asset_id, values in contribute(asset_ids=ids).items():
            facts.setdefault(asset_id, {}).update(values)
    return {"held": assets_frozen_among(asset_ids=ids), "facts": facts}


class AssetFilter(filters.FilterSet):
    collection = filters.CharFilter(field_name="sources__collection__name", distinct=True)
    state = filters.ChoiceFilter(choices=Asset.State.choices)
    role = filters.ChoiceFilter(choices=Asset.Role.choices)
    published = filters.BooleanFilter(method="filter_published")
    held = filters.BooleanFilter(
        method="filter_held", help_text="frozen (or not) by an active legal hold"
    )
    replaced = filters.BooleanFilter(
        field_name="replaced_by",
        lookup_expr="isnull",
        exclude=True,
        help_text="consolidated into a canonical asset (or not)",
    )
    duplicate_kind = filters.ChoiceFilter(
        method="filter_duplicate_kind",
        choices=[(k, k) for k in ("exact", "pixel", "derivative", "similar")],
        help_text="assets in a candidate pair of this kind",
    )

    class Meta:
        model = Asset
        fields = ["collection", "state", "role", "format", "published", "held", "duplicate_kind"]

    def filter_published(self, queryset, name, value):
        published = Q(entries__published=True)
        return queryset.filter(published).distinct() if value else queryset.exclude(published)

    def filter_held(self, queryset, name, value):
        frozen = Q(pk__in=frozen_asset_ids())
        return queryset.filter(frozen) if value else queryset.exclude(frozen)

    def filter_duplicate_kind(self, queryset, name, value):
        # The pairs are dedup's: it answers through hooks.assets_paired (the archive never
        # imports its child apps).
        paired = Q(pk__in=[])
        for assets in hooks.assets_paired:
            paired |= Q(pk__in=assets(kind=value))
        return queryset.filter(paired)


def _assets():
    return Asset.objects.select_related("collection")


class AssetDetailApi(Api):
    """One asset. A replaced asset answers with a redirect to its canonical (302), and its
    own record in the body; `?replaced=1` answers 200 with the replaced asset instead."""

    required_permissions = {"GET": ["archive.view_asset"]}

    class AssetDetailQuery(serializers.Serializer):
        replaced = serializers.BooleanField(
            required=False,
            default=False,
            help_text="answer with a replaced asset itself instead of redirecting",
        )

    @extend_schema(
        parameters=[AssetDetailQuery],
        responses={
            200: AssetOutput,
            302: OpenApiResponse(
                AssetOutput,
                description="replaced: `Location` names the canonical asset's URL",
            ),
        },
    )
    def get(self, request, pk: int):
        query = self.AssetDetailQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        asset = get_object_or_404(_assets(), pk=pk)
        body = AssetOutput(asset, context=held_context([asset])).data
        if asset.replaced_by_id is None or query.validated_data["replaced"]:
            return Response(body)
        location = request.build_absolute_uri(
            reverse("api:asset-detail", args=[asset.replaced_by_id])
        )
        return Response(body, status=status.HTTP_302_FOUND, headers={"Location": location})


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # What _idempotency_key accepts (HTTP trims a header value's outer spaces).
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    OpenApiParameter.HEADER,
    description="Retrying with the same key returns the first answer instead of running "
    "again (1–255 printable ASCII characters; a different request under the same key: 409).",
)


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
        raise ValidationError({"Idempotency-Key": ["Use 1 to 255 printable ASCII characters."]})
    return key


def _request_fingerprint(values: dict) -> str:
    """The SHA-256 of what an upload asks for: the file's bytes and every other field."""
    upload = values["file"]
    content = hashlib.sha256()
    for chunk in upload.chunks():
        content.update(chunk)
    upload.seek(0)
    fields = {name: value for name, value in values.items() if name != "file"}
    fields["file"] = content.hexdigest()
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _replay(stored: ApiIdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise ArchiveError(
            "This Idempotency-Key was used for a different request; use a new key.",
            code="conflict",
        )
    return Response(
        stored.response, status=stored.status_code, headers={"Idempotent-Replayed": "true"}
    )


@extend_schema_field({"type": "string", "format": "binary"})
class UploadFileField(serializers.FileField):
    """The file part of an upload; a part sent without a filename (its bytes arrive as a
    form value) is taken as a file named "upload", so it is judged like any other."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = SimpleUploadedFile("upload", data.encode("utf-8", "surrogateescape"))
        return super().to_internal_value(data)


class AssetListApi(ListApi):
    """List assets (GET) or upload one image (POST); the same bytes again answer 200."""

    queryset = Asset.objects.none()
    filterset_class = AssetFilter
    parser_classes = [MultiPartParser]
    required_permissions = {"GET": ["archive.view_asset"], "POST": ["archive.add_asset"]}

    class UploadInput(serializers.Serializer):
        # An empty file reaches the ingest, which records its refusal (422) like any other
        # file that is not an image, instead of a 400 that leaves no trace.
        file = UploadFileField(allow_empty_file=True)
        collection = serializers.CharField(max_length=200)
        path = serializers.CharField(
            max_length=1024, required=False, help_text="the file's path on the sending system"
        )
        title = serializers.CharField(max_length=500, required=False, default="")
        description = serializers.CharField(required=False, default="")
        accession_number = serializers.CharField(max_length=100, required=False, default="")
        creator = serializers.CharField(max_length=300, required=False, default="")
        published = serializers.BooleanField(required=False, default=False)

    class UploadOutput(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=[
                IngestStatus.NEW.value,
                IngestStatus.ATTACHED.value,
                IngestStatus.UNCHANGED.value,
            ]
        )
        asset = AssetOutput()
        entry = serializers.IntegerField(allow_null=True)
        possible_duplicates = serializers.ListField(
            child=serializers.IntegerField(),
            help_text="assets the pre-ingest check flagged as possible duplicates of this one",
        )

    class HeldOutput(serializers.Serializer):
        status = serializers.ChoiceField(choices=[IngestStatus.HELD.value])
        intake_item = serializers.IntegerField(
            help_text="the intake item a curator decides (GET /api/v1/intake/{id}/)"
        )
        message = serializers.CharField()
        matches = serializers.ListField(
            child=IntakeMatchOutput(), help_text="the held assets this file looks like, best first"
        )

    @extend_schema(responses=AssetOutput(many=True))
    def get(self, request):
        queryset = _assets().order_by("-pk")
        return self.list_response(queryset, AssetOutput, page_context=held_context)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request={"multipart/form-data": UploadInput},
        responses={
            201: UploadOutput,
            200: OpenApiResponse(UploadOutput, description="bytes already held: that asset"),
            202: OpenApiResponse(
                HeldOutput,
                description="looks like an asset already held: waits at the collection's "
                "intake gate until a curator decides",
            ),
            413: OpenApiResponse(description="file too large"),
            422: OpenApiResponse(description="not a storable image"),
        },
    )
    def post(self, request):
        data = self.UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key = _idempotency_key(request)
        upload = values["file"]
        if upload.size > settings.KEEPSAKE_MAX_UPLOAD_BYTES:
            raise ArchiveError(
                f"{upload.name}: {upload.size} bytes exceeds the upload limit "
                f"of {settings.KEEPSAKE_MAX_UPLOAD_BYTES} bytes.",
                code="too_large",
            )
        if key is None:
            return self._ingest(request, values)
        return self._ingest_once(request, values, key)

    def _ingest_once(self, request, values: dict, key: str) -> Response:
        fingerprint = _request_fingerprint(values)
        with transaction.atomic():
            try:
                # The key is claimed in the transaction that runs the upload: a concurrent
                # retry waits on the unique constraint (PostgreSQL) or the write lock
                # (SQLite) until this one ends, then replays its answer; a failure rolls
                # back the claim too, so the next retry runs again.
                with transaction.atomic():
                    claim = ApiIdempotencyKey.objects.create(
                        user=request.user, key=key, fingerprint=fingerprint
                    )
            except IntegrityError:
                return _replay(
                    ApiIdempotencyKey.objects.get(user=request.user, key=key), fingerprint
                )
            response = self._ingest(request, values)
            claim.status_code = response.status_code
            claim.response = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
            claim.save(update_fields=["status_code", "response"])
        return response

    def _ingest(self, request, values: dict) -> Response:
        upload = values["file"]
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
            via="api",
        )
        if outcome.status == IngestStatus.HELD:
            body = self.HeldOutput(
                {
                    "status": outcome.status.value,
                    "intake_item": outcome.findings["intake_item"],
                    "message": outcome.reason,
                    "matches": outcome.findings["matches"],
                }
            ).data
            return Response(body, status=status.HTTP_202_ACCEPTED)
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
        body = self.UploadOutput(
            {
                "status": outcome.status.value,
                "asset": outcome.asset,
                "entry": outcome.entry.pk if outcome.entry else None,
                "possible_duplicates": outcome.findings.get("possible_duplicates", []),
            },
            context=held_context([outcome.asset]),
        ).data
        created = outcome.status == IngestStatus.NEW
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
