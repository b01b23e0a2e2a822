"""Catalogue entries and licences (saved through `record_save`, so every change is audited),
and the licence comparison and sign-off of a group of assets. Nothing is deleted here:
removal goes through retention."""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from archive.licensing import (
    TERM_FIELDS,
    licence_conflict_sign_off,
    licence_sign_off_current,
    licence_terms_compare,
)
from archive.models import Asset, CatalogueEntry, Collection, Licence, LicenceSignOff
from archive.services import record_save
from config.api import Api, IdFilter, ListApi, object_list

ENTRY_FIELDS = [
    "title",
    "description",
    "accession_number",
    "creator",
    "date_start",
    "date_end",
    "subjects",
]


class EntryOutput(serializers.ModelSerializer):
    collection = serializers.CharField(source="collection.name")
    licences = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = CatalogueEntry
        fields = [
            "id",
            "asset",
            "collection",
            "source",
            *ENTRY_FIELDS,
            "published",
            "published_at",
            "published_sha256",
            "created_at",
            "licences",
        ]


class EntryFilter(filters.FilterSet):
    collection = filters.CharFilter(field_name="collection__name")

    class Meta:
        model = CatalogueEntry
        fields = ["asset", "collection", "published", "accession_number"]


class EntryInput(serializers.Serializer):
    """The descriptive fields; publishing and repointing are workflows of their own."""

    collection = serializers.SlugRelatedField(
        slug_field="name", queryset=Collection.objects.all(), help_text="collection name"
    )
    title = serializers.CharField(max_length=500)
    description = serializers.CharField(required=False, allow_blank=True)
    accession_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    creator = serializers.CharField(max_length=300, required=False, allow_blank=True)
    date_start = serializers.DateField(required=False, allow_null=True)
    date_end = serializers.DateField(required=False, allow_null=True)
    subjects = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="recorded in the audit trail"
    )


def _entries():
    return CatalogueEntry.objects.select_related("collection").prefetch_related("licences")


class EntryListApi(ListApi):
    queryset = CatalogueEntry.objects.none()
    filterset_class = EntryFilter
    required_permissions = {
        "GET": ["archive.view_catalogueentry"],
        "POST": ["archive.add_catalogueentry"],
    }

    class EntryCreateInput(EntryInput):
        asset = serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all())

    @extend_schema(responses=EntryOutput(many=True))
    def get(self, request):
        return self.list_response(_entries().order_by("pk"), EntryOutput)

    @extend_schema(request=EntryCreateInput, responses={201: EntryOutput})
    def post(self, request):
        data = self.EntryCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason")
        entry = record_save(obj=CatalogueEntry(**values), actor=request.user, reason=reason)
        return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)


class EntryDetailApi(Api):
    required_permissions = {
        "GET": ["archive.view_catalogueentry"],
        "PATCH": ["archive.change_catalogueentry"],
    }

    class EntryUpdateInput(EntryInput):
        pass

    @extend_schema(responses=EntryOutput)
    def get(self, request, pk: int):
        return Response(EntryOutput(get_object_or_404(_entries(), pk=pk)).data)

    @extend_schema(request=EntryUpdateInput, responses=EntryOutput)
    def patch(self, request, pk: int):
        entry = get_object_or_404(CatalogueEntry, pk=pk)
        data = self.EntryUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", "")
        # Only the fields sent are applied, to the row as locked: a concurrent PATCH of
        # another field is never overwritten with this request's stale copy.
        record_save(obj=entry, changes=values, actor=request.user, reason=reason)
        return Response(EntryOutput(get_object_or_404(_entries(), pk=pk)).data)


class LicenceOutput(serializers.ModelSerializer):
    asset = serializers.IntegerField(source="entry.asset_id")

    class Meta:
        model = Licence
        fields = ["id", "entry", "asset", *TERM_FIELDS]


class LicenceFilter(filters.FilterSet):
    asset = IdFilter(field_name="entry__asset")

    class Meta:
        model = Licence
        fields = ["entry", "asset", "licence_type"]


class LicenceInput(serializers.Serializer):
    entry = serializers.PrimaryKeyRelatedField(queryset=CatalogueEntry.objects.all())
    holder = serializers.CharField(max_length=300)
    licence_type = serializers.ChoiceField(choices=Licence.Type.choices, required=False)
    territory = serializers.CharField(max_length=200, required=False, allow_blank=True)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(required=False, allow_null=True)
    restrictions = serializers.CharField(required=False, allow_blank=True)
    credit_line = serializers.CharField(max_length=500, required=False, allow_blank=True)
    agreement_reference = serializers.CharField(max_length=200, required=False, allow_blank=True)
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="recorded in the audit trail"
    )


def _licences():
    return Licence.objects.select_related("entry")


class LicenceListApi(ListApi):
    queryset = Licence.objects.none()
    filterset_class = LicenceFilter
    required_permissions = {"GET": ["archive.view_licence"], "POST": ["archive.add_licence"]}

    @extend_schema(responses=LicenceOutput(many=True))
    def get(self, request):
        return self.list_response(_licences().order_by("pk"), LicenceOutput)

    @extend_schema(request=LicenceInput, responses={201: LicenceOutput})
    def post(self, request):
        data = LicenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason")
        licence = record_save(obj=Licence(**values), actor=request.user, reason=reason)
        return Response(LicenceOutput(licence).data, status=status.HTTP_201_CREATED)


class LicenceDetailApi(Api):
    required_permissions = {
        "GET": ["archive.view_licence"],
        "PATCH": ["archive.change_licence"],
    }

    @extend_schema(responses=LicenceOutput)
    def get(self, request, pk: int):
        return Response(LicenceOutput(get_object_or_404(_licences(), pk=pk)).data)

    @extend_schema(request=LicenceInput, responses=LicenceOutput)
    def patch(self, request, pk: int):
        licence = get_object_or_404(Licence, pk=pk)
        data = LicenceInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", "")
        record_save(obj=licence, changes=values, actor=request.user, reason=reason)
        return Response(LicenceOutput(get_object_or_404(_licences(), pk=pk)).data)


class AssetsInput(serializers.Serializer):
    assets = object_list(
        serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all()),
        max_length=500,
        allow_empty=False,
    )


class SignOffOutput(serializers.ModelSerializer):
    signed_by = serializers.CharField(source="signed_by.get_username")

    class Meta:
        model = LicenceSignOff
        fields = ["id", "asset_ids", "terms_fingerprint", "reason", "signed_by", "signed_at"]


class LicenceColumnOutput(serializers.Serializer):
    """One licence of one record (licence_id null: a record without a licence)."""

    asset_id = serializers.IntegerField()
    entry_id = serializers.IntegerField()
    entry_title = serializers.CharField()
    licence_id = serializers.IntegerField(allow_null=True)
    terms = serializers.DictField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())


class LicenceCompareApi(Api):
    """Every licence of every record behind a group of assets, side by side."""

    required_permissions = {"GET": ["archive.view_asset", "archive.view_licence"]}

    class LicenceComparisonOutput(serializers.Serializer):
        asset_ids = serializers.ListField(child=serializers.IntegerField())
        conflict = serializers.BooleanField()
        differing_fields = serializers.ListField(child=serializers.CharField())
        terms_fingerprint = serializers.CharField(
            help_text="the terms shown; a sign-off sends it back and is refused if they changed"
        )
        columns = LicenceColumnOutput(many=True)
        sign_off = SignOffOutput(allow_null=True)

    @extend_schema(parameters=[AssetsInput], responses=LicenceComparisonOutput)
    def get(self, request):
        query = AssetsInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        comparison = licence_terms_compare(assets=query.validated_data["assets"])
        body = {
            "asset_ids": list(comparison.asset_ids),
            "conflict": comparison.conflict,
            "differing_fields": list(comparison.differing_fields),
            "terms_fingerprint": comparison.terms_fingerprint,
            "columns": comparison.as_json(),
            "sign_off": licence_sign_off_current(comparison=comparison),
        }
        return Response(self.LicenceComparisonOutput(body).data)


class LicenceSignOffApi(Api):
    """Accept the differing licences of a group of assets (licensing permission).

    The request names the terms it accepts by the `terms_fingerprint` the comparison
    returned; 409 (code "conflict") when the terms changed since.
    """

    required_permissions = {"POST": ["archive.sign_off_licence"]}

    class LicenceSignOffInput(AssetsInput):
        terms_fingerprint = serializers.RegexField(
            r"^[0-9a-f]{64}$",
            help_text="terms_fingerprint of the comparison shown (GET /licences/compare/)",
        )
        reason = serializers.CharField()

    @extend_schema(request=LicenceSignOffInput, responses={201: SignOffOutput})
    def post(self, request):
        data = self.LicenceSignOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        sign_off = licence_conflict_sign_off(
            assets=data.validated_data["assets"],
            terms_fingerprint=data.validated_data["terms_fingerprint"],
            reason=data.validated_data["reason"],
            actor=request.user,
        )
        return Response(SignOffOutput(sign_off).data, status=status.HTTP_201_CREATED)
