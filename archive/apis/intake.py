"""The intake gate: uploads waiting for a curator's choice, and the choice itself."""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from archive.intake import intake_decide
from archive.models import IntakeItem
from config.api import Api, ListApi


class IntakeMatchOutput(serializers.Serializer):
    asset = serializers.IntegerField()
    kind = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    phash_distance = serializers.IntegerField()


class IntakeItemOutput(serializers.ModelSerializer):
    collection = serializers.CharField(source="collection.name")
    matches = IntakeMatchOutput(many=True)
    created_by = serializers.CharField(
        source="created_by.get_username", allow_null=True, default=None
    )
    decided_by = serializers.CharField(
        source="decided_by.get_username", allow_null=True, default=None
    )

    class Meta:
        model = IntakeItem
        fields = [
            "id",
            "collection",
            "path",
            "sha256",
            "size",
            "format",
            "width",
            "height",
            "status",
            "via",
            "matches",
            "choice",
            "decision_reason",
            "target",
            "asset",
            "created_at",
            "created_by",
            "decided_at",
            "decided_by",
        ]


class IntakeFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=IntakeItem.Status.choices)

    class Meta:
        model = IntakeItem
        fields = ["status"]


def _items():
    return IntakeItem.objects.select_related("collection", "created_by", "decided_by")


class IntakeListApi(ListApi):
    queryset = IntakeItem.objects.none()
    filterset_class = IntakeFilter
    required_permissions = {"GET": ["archive.view_intakeitem"]}

    @extend_schema(
        summary="Uploads at the intake gate",
        responses=IntakeItemOutput(many=True),
    )
    def get(self, request):
        return self.list_response(_items().order_by("-created_at", "-pk"), IntakeItemOutput)


class IntakeDetailApi(Api):
    required_permissions = {"GET": ["archive.view_intakeitem"]}

    @extend_schema(summary="One upload at the intake gate", responses=IntakeItemOutput)
    def get(self, request, pk: int):
        return Response(IntakeItemOutput(get_object_or_404(_items(), pk=pk)).data)


class IntakeDecisionApi(Api):
    required_permissions = {"POST": ["archive.decide_intakeitem"]}

    class DecisionInput(serializers.Serializer):
        choice = serializers.ChoiceField(choices=IntakeItem.Choice.choices)
        reason = serializers.CharField(max_length=2000)
        target = serializers.IntegerField(
            required=False,
            min_value=1,
            help_text="for add_record and use_existing: one of the item's matched assets "
            "(default: the best match)",
        )

    class DecisionOutput(serializers.Serializer):
        item = IntakeItemOutput()
        asset = serializers.IntegerField(allow_null=True)
        message = serializers.CharField()

    @extend_schema(
        summary="Decide on an upload waiting at the intake gate",
        request=DecisionInput,
        responses={
            200: DecisionOutput,
            409: OpenApiResponse(description="already decided, or the matched asset is gone"),
        },
    )
    def post(self, request, pk: int):
        item = get_object_or_404(IntakeItem, pk=pk)
        data = self.DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        decision = intake_decide(
            item=item,
            choice=values["choice"],
            reason=values["reason"],
            target=values.get("target"),
            actor=request.user,
        )
        body = {
            "item": _items().get(pk=item.pk),
            "asset": decision.asset.pk if decision.asset else None,
            "message": decision.message,
        }
        return Response(self.DecisionOutput(body).data)
