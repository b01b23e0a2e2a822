"""Quarantine (list with deadlines, restore), disposition requests (create, approve by a
second person, execute) and the storage dashboard's figures; every write calls retention's
services, which ask the one disposition guard."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from archive.apis.assets import AssetOutput, held_context
from archive.models import Asset
from config.api import Api, DateTimeBoundFilter, ListApi, object_list
from retention.guard import purge_preview
from retention.models import DispositionRequest, QuarantineRecord
from retention.purge import (
    disposition_execute,
    disposition_request_approve,
    disposition_request_create,
)
from retention.selectors import quarantine_open, storage_dashboard
from retention.services import asset_restore


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


class QuarantineOutput(serializers.ModelSerializer):
    quarantined_by = serializers.SerializerMethodField()
    window_open = serializers.SerializerMethodField(
        help_text="the asset can still be restored; once closed it may be purged"
    )

    class Meta:
        model = QuarantineRecord
        fields = [
            "id",
            "asset",
            "reason",
            "quarantined_at",
            "quarantined_by",
            "restore_deadline",
            "window_open",
            "previous_state",
            "previous_alias",
        ]

    def get_quarantined_by(self, record) -> str | None:
        return _username(record.quarantined_by)

    def get_window_open(self, record) -> bool:
        return timezone.now() < record.restore_deadline


class QuarantineFilter(filters.FilterSet):
    deadline_before = DateTimeBoundFilter(
        field_name="restore_deadline", lookup_expr="lte", help_text="restore deadline by then"
    )

    class Meta:
        model = QuarantineRecord
        fields = ["asset", "deadline_before"]


class QuarantineListApi(ListApi):
    """Assets in quarantine now, soonest restore deadline first."""

    queryset = QuarantineRecord.objects.none()
    filterset_class = QuarantineFilter
    required_permissions = {"GET": ["retention.view_quarantinerecord"]}

    @extend_schema(responses=QuarantineOutput(many=True))
    def get(self, request):
        records = quarantine_open().select_related("quarantined_by")
        return self.list_response(records.order_by("restore_deadline", "pk"), QuarantineOutput)


class QuarantineRestoreApi(Api):
    """Bring the asset of an open quarantine record back exactly as it was."""

    required_permissions = {"POST": ["retention.restore_asset"]}

    class QuarantineRestoreInput(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=QuarantineRestoreInput, responses=AssetOutput)
    def post(self, request, pk: int):
        record = get_object_or_404(QuarantineRecord, pk=pk)
        data = self.QuarantineRestoreInput(data=request.data)
        data.is_valid(raise_exception=True)
        asset = asset_restore(
            asset=record.asset, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(AssetOutput(asset, context=held_context([asset])).data)


class BlockerOutput(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PurgeBlockersOutput(serializers.Serializer):
    standing = BlockerOutput(many=True)
    awaited = BlockerOutput(many=True)


class DispositionItemOutput(serializers.Serializer):
    asset = serializers.IntegerField(source="asset_id")
    executed_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(allow_blank=True)
    blockers = serializers.SerializerMethodField()

    @extend_schema_field(PurgeBlockersOutput(allow_null=True))
    def get_blockers(self, item) -> dict | None:
        """What the guard would refuse the purge for now (open items; null once closed)."""
        if item.executed_at is not None:
            return None
        [preview] = purge_preview(assets=[item.asset])
        return PurgeBlockersOutput(preview).data


class DispositionOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(
        choices=["awaiting approval", "approved", "executed"], read_only=True
    )
    requested_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    items = DispositionItemOutput(many=True, read_only=True)

    class Meta:
        model = DispositionRequest
        fields = [
            "id",
            "status",
            "reason",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
            "executed_at",
            "items",
        ]

    def get_requested_by(self, request) -> str | None:
        return _username(request.requested_by)

    def get_approved_by(self, request) -> str | None:
        return _username(request.approved_by)


class DispositionFilter(filters.FilterSet):
    approved = filters.BooleanFilter(field_name="approved_at", lookup_expr="isnull", exclude=True)
    executed = filters.BooleanFilter(field_name="executed_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = DispositionRequest
        fields = ["approved", "executed"]


def _dispositions():
    return DispositionRequest.objects.select_related(
        "requested_by", "approved_by"
    ).prefetch_related("items__asset")


class DispositionListApi(ListApi):
    """Requests to purge quarantined assets; a second person approves each."""

    queryset = DispositionRequest.objects.none()
    filterset_class = DispositionFilter
    required_permissions = {
        "GET": ["retention.view_dispositionrequest"],
        "POST": ["retention.request_disposition"],
    }

    class DispositionCreateInput(serializers.Serializer):
        assets = object_list(
            serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all()),
            max_length=1000,
            allow_empty=False,
        )
        reason = serializers.CharField()

    @extend_schema(responses=DispositionOutput(many=True))
    def get(self, request):
        return self.list_response(_dispositions().order_by("-pk"), DispositionOutput)

    @extend_schema(request=DispositionCreateInput, responses={201: DispositionOutput})
    def post(self, request):
        data = self.DispositionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        filed = disposition_request_create(actor=request.user, **data.validated_data)
        return Response(
            DispositionOutput(_dispositions().get(pk=filed.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class DispositionDetailApi(Api):
    required_permissions = {"GET": ["retention.view_dispositionrequest"]}

    @extend_schema(responses=DispositionOutput)
    def get(self, request, pk: int):
        return Response(DispositionOutput(get_object_or_404(_dispositions(), pk=pk)).data)


class DispositionApproveApi(Api):
    """Approve a request someone else filed (never your own: 409)."""

    required_permissions = {"POST": ["retention.approve_disposition"]}

    class DispositionApproveInput(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=DispositionApproveInput, responses=DispositionOutput)
    def post(self, request, pk: int):
        disposition = get_object_or_404(DispositionRequest, pk=pk)
        data = self.DispositionApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        disposition_request_approve(
            request=disposition, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(DispositionOutput(_dispositions().get(pk=pk)).data)


class DispositionExecuteApi(Api):
    """Purge each asset of an approved request whose window closed; report each outcome."""

    required_permissions = {"POST": ["retention.execute_disposition"]}

    @extend_schema(request=None, responses=DispositionOutput)
    def post(self, request, pk: int):
        disposition = get_object_or_404(DispositionRequest, pk=pk)
        disposition_execute(request=disposition, actor=request.user)
        return Response(DispositionOutput(_dispositions().get(pk=pk)).data)


class StorageReportApi(Api):
    """The storage dashboard's figures: per tier and collection, duplicates, bytes recovered."""

    required_permissions = {"GET": ["retention.view_storage_dashboard"]}

    class StorageReportOutput(serializers.Serializer):
        generated_at = serializers.DateTimeField()
        tiers = serializers.ListField(child=serializers.DictField())
        total_bytes = serializers.IntegerField()
        total_count = serializers.IntegerField()
        monthly_cost = serializers.FloatField()
        currency = serializers.CharField()
        collections = serializers.ListField(child=serializers.DictField())
        duplicates = serializers.DictField()
        recovered_bytes = serializers.IntegerField()
        purged_count = serializers.IntegerField()
        open_moves = serializers.IntegerField()
        fixity_failures = serializers.IntegerField()

    @extend_schema(responses=StorageReportOutput)
    def get(self, request):
        return Response(self.StorageReportOutput(storage_dashboard()).data)
