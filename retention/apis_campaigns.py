"""Campaigns (list, create, progress), the options report and certificates of destruction.

Every endpoint calls the service the admin and the commands call.
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from archive.models import Collection
from config.api import Api, ErrorSerializer
from retention.campaigns import campaign_progress, campaign_save
from retention.certificates import certificate_check
from retention.models import Campaign, DestructionCertificate
from retention.options import options_report

NOT_FOUND = {404: ErrorSerializer}


class CampaignOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    collections = serializers.ListField(child=serializers.CharField())
    ingested_from = serializers.DateField(allow_null=True)
    ingested_until = serializers.DateField(allow_null=True)
    owner = serializers.CharField()
    starts_on = serializers.DateField()
    deadline = serializers.DateField()


def _campaign_data(campaign: Campaign) -> dict:
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "description": campaign.description,
        "collections": sorted(c.name for c in campaign.collections.all()),
        "ingested_from": campaign.ingested_from,
        "ingested_until": campaign.ingested_until,
        "owner": campaign.owner.get_username(),
        "starts_on": campaign.starts_on,
        "deadline": campaign.deadline,
    }


class CampaignListApi(Api):
    """Campaigns, soonest deadline first; POST plans a new one."""

    required_permissions = {"GET": ["retention.view_campaign"], "POST": ["retention.add_campaign"]}

    class CampaignInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        collections = serializers.ListField(
            child=serializers.CharField(max_length=200), min_length=1, max_length=200
        )
        ingested_from = serializers.DateField(required=False, allow_null=True, default=None)
        ingested_until = serializers.DateField(required=False, allow_null=True, default=None)
        starts_on = serializers.DateField()
        deadline = serializers.DateField()

    @extend_schema(responses={200: CampaignOutput(many=True)})
    def get(self, request):
        campaigns = Campaign.objects.select_related("owner").prefetch_related("collections")
        return Response([_campaign_data(c) for c in campaigns.order_by("deadline", "name")])

    @extend_schema(request=CampaignInput, responses={201: CampaignOutput, 400: ErrorSerializer})
    def post(self, request):
        data = self.CampaignInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        names = values.pop("collections")
        collections = list(Collection.objects.filter(name__in=names))
        missing = sorted(set(names) - {c.name for c in collections})
        if missing:
            # Well-formed names that name nothing: 409 unknown_reference (config.api).
            raise serializers.ValidationError(
                {"collections": [f"No collection called {', '.join(missing)}."]},
                code="does_not_exist",
            )
        campaign = Campaign(owner=request.user, **values)
        campaign_save(campaign=campaign, collections=collections, actor=request.user)
        return Response(_campaign_data(campaign), status=status.HTTP_201_CREATED)


class CampaignProgressOutput(serializers.Serializer):
    class Tally(serializers.Serializer):
        total = serializers.IntegerField()
        resolved = serializers.IntegerField()
        remaining = serializers.IntegerField()

    class KindTally(Tally):
        kind = serializers.CharField()

    class CollectionTally(Tally):
        collection = serializers.CharField()

    class Day(serializers.Serializer):
        day = serializers.DateField()
        decisions = serializers.IntegerField()

    class Rate(serializers.Serializer):
        window_days = serializers.IntegerField()
        decisions = serializers.IntegerField()
        per_day = serializers.FloatField()

    class Plan(serializers.Serializer):
        per_day = serializers.FloatField()
        finish = serializers.DateField(allow_null=True)
        on_track = serializers.BooleanField()
        days_left = serializers.IntegerField()
        needed_per_day = serializers.FloatField(allow_null=True)
        status = serializers.CharField()

    class Snapshot(Tally):
        day = serializers.DateField()

    campaign = CampaignOutput()
    as_of = serializers.DateField()
    total = serializers.IntegerField()
    resolved = serializers.IntegerField()
    remaining = serializers.IntegerField()
    percent_resolved = serializers.FloatField()
    by_kind = KindTally(many=True)
    by_collection = CollectionTally(many=True)
    groups = Tally()
    decisions_per_day = Day(many=True)
    rate = Rate()
    projection = Plan()
    snapshots = Snapshot(many=True)


def _campaign(pk: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("owner"), pk=pk)


class CampaignProgressApi(Api):
    """Resolved vs remaining pairs by kind and collection, decisions per day, the current
    rate, the projected finish against the deadline and the daily snapshots."""

    required_permissions = {"GET": ["retention.view_campaign"]}

    @extend_schema(responses={200: CampaignProgressOutput, **NOT_FOUND})
    def get(self, request, pk: int):
        campaign = _campaign(pk)
        progress = campaign_progress(campaign=campaign)
        progress["campaign"] = _campaign_data(campaign)
        return Response(CampaignProgressOutput(progress).data)


class OptionsReportOutput(serializers.Serializer):
    class Option(serializers.Serializer):
        option = serializers.ChoiceField(choices=["keep", "cold", "purge"])
        description = serializers.CharField()
        objects = serializers.IntegerField()
        bytes = serializers.IntegerField()
        monthly_cost = serializers.FloatField()
        monthly_saving = serializers.FloatField()
        touches = serializers.DictField(
            child=serializers.DictField(),
            help_text="published, held, licence_conflict, published_last_copy: "
            "{count, bytes, assets}",
        )
        stays = serializers.IntegerField(help_text="files the option would leave in place")

    class Scope(serializers.Serializer):
        collection = serializers.CharField(allow_null=True)
        campaign = serializers.CharField(allow_null=True)

    scope = Scope()
    objects = serializers.IntegerField()
    bytes = serializers.IntegerField()
    currency = serializers.CharField()
    prices_per_gb_month = serializers.DictField(child=serializers.FloatField())
    options = Option(many=True)


class CampaignOptionsApi(Api):
    """The options report (keep, cold, purge) for the campaign's scope."""

    required_permissions = {"GET": ["retention.view_storage_dashboard"]}

    @extend_schema(responses={200: OptionsReportOutput, **NOT_FOUND})
    def get(self, request, pk: int):
        return Response(OptionsReportOutput(options_report(campaign=_campaign(pk))).data)


class CollectionOptionsApi(Api):
    """The options report (keep, cold, purge) for one collection, by id."""

    required_permissions = {"GET": ["retention.view_storage_dashboard"]}

    @extend_schema(responses={200: OptionsReportOutput, **NOT_FOUND})
    def get(self, request, pk: int):
        collection = get_object_or_404(Collection, pk=pk)
        return Response(OptionsReportOutput(options_report(collection=collection)).data)


class CertificateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    disposition_request = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    asset_count = serializers.IntegerField()
    json_sha256 = serializers.CharField()
    html_sha256 = serializers.CharField()
    audit_event = serializers.IntegerField(allow_null=True)
    checkpoint = serializers.IntegerField(allow_null=True, help_text="covering checkpoint size")
    ok = serializers.BooleanField(help_text="texts and the audit event's digests agree")
    document = serializers.JSONField(help_text="the certificate (JSON) as issued")


class CertificateDetailApi(Api):
    """A certificate of destruction: its JSON document and its check against the audit
    trail; `?as=html` answers the HTML text exactly as issued."""

    required_permissions = {"GET": ["retention.view_destructioncertificate"]}

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["json", "html"], required=False)],
        responses={
            (200, "application/json"): CertificateOutput,
            (200, "text/html"): OpenApiResponse(
                OpenApiTypes.STR, description="with ?as=html: the HTML text as issued"
            ),
            **NOT_FOUND,
        },
    )
    def get(self, request, pk: int):
        import json

        from django.http import HttpResponse

        certificate = get_object_or_404(DestructionCertificate, pk=pk)
        if request.query_params.get("as") == "html":
            response = HttpResponse(certificate.html_text, content_type="text/html; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="certificate-{pk}.html"'
            return response
        check = certificate_check(certificate=certificate)
        body = {
            "id": certificate.pk,
            "disposition_request": certificate.request_id,
            "issued_at": certificate.issued_at,
            "asset_count": certificate.asset_count,
            "json_sha256": certificate.json_sha256,
            "html_sha256": certificate.html_sha256,
            "audit_event": check["audit_event"],
            "checkpoint": check["checkpoint"],
            "ok": check["ok"],
            "document": json.loads(certificate.json_text),
        }
        return Response(CertificateOutput(body).data)


urlpatterns = [
    path("campaigns/", CampaignListApi.as_view(), name="campaign-list"),
    path("campaigns/<int:pk>/progress/", CampaignProgressApi.as_view(), name="campaign-progress"),
    path("campaigns/<int:pk>/options/", CampaignOptionsApi.as_view(), name="campaign-options"),
    path(
        "collections/<int:pk>/options/",
        CollectionOptionsApi.as_view(),
        name="collection-options",
    ),
    path("certificates/<int:pk>/", CertificateDetailApi.as_view(), name="certificate-detail"),
]
