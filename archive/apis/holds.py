"""Legal holds: list, place, release. Holds are never edited or deleted."""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from archive.holds import legal_hold_place, legal_hold_release
from archive.models import Asset, CatalogueEntry, Collection, LegalHold
from archive.selectors import holds_over
from config.api import Api, IdFilter, ListApi, object_list


class HoldOutput(serializers.ModelSerializer):
    collections = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    placed_by = serializers.CharField(source="placed_by.get_username")
    released_by = serializers.CharField(
        source="released_by.get_username", allow_null=True, default=None
    )
    active = serializers.BooleanField(source="is_active")

    class Meta:
        model = LegalHold
        fields = [
            "id",
            "matter_reference",
            "reason",
            "active",
            "assets",
            "entries",
            "collections",
            "placed_by",
            "placed_at",
            "released_by",
            "released_at",
            "release_reason",
        ]


class HoldFilter(filters.FilterSet):
    active = filters.BooleanFilter(field_name="released_at", lookup_expr="isnull")
    asset = IdFilter(
        method="filter_asset",
        help_text="holds whose scope reaches this asset (directly, through its entries, "
        "collections, twins or consolidations)",
    )

    class Meta:
        model = LegalHold
        fields = ["active", "matter_reference", "asset"]

    def filter_asset(self, queryset, name, value):
        over = holds_over(asset_ids=Asset.objects.filter(pk=value).values("pk"))
        return queryset.filter(pk__in=over.values("pk"))


def _holds():
    return LegalHold.objects.select_related("placed_by", "released_by").prefetch_related(
        "assets", "entries", "collections"
    )


class HoldListApi(ListApi):
    queryset = LegalHold.objects.none()
    filterset_class = HoldFilter
    required_permissions = {
        "GET": ["archive.view_legalhold"],
        "POST": ["archive.place_legal_hold"],
    }

    class HoldPlaceInput(serializers.Serializer):
        matter_reference = serializers.CharField(max_length=200)
        reason = serializers.CharField()
        assets = object_list(
            serializers.PrimaryKeyRelatedField(queryset=Asset.objects.all()),
            max_length=1000,
            required=False,
        )
        entries = object_list(
            serializers.PrimaryKeyRelatedField(queryset=CatalogueEntry.objects.all()),
            max_length=1000,
            required=False,
        )
        collections = object_list(
            serializers.SlugRelatedField(slug_field="name", queryset=Collection.objects.all()),
            max_length=100,
            required=False,
            help_text="collection names: freezes every asset of each, later ones included",
        )

    @extend_schema(responses=HoldOutput(many=True))
    def get(self, request):
        return self.list_response(_holds().order_by("-placed_at", "-pk"), HoldOutput)

    @extend_schema(request=HoldPlaceInput, responses={201: HoldOutput})
    def post(self, request):
        data = self.HoldPlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        hold = legal_hold_place(
            matter_reference=values["matter_reference"],
            reason=values["reason"],
            assets=values.get("assets", ()),
            entries=values.get("entries", ()),
            collections=values.get("collections", ()),
            actor=request.user,
        )
        return Response(HoldOutput(_holds().get(pk=hold.pk)).data, status=status.HTTP_201_CREATED)


class HoldDetailApi(Api):
    required_permissions = {"GET": ["archive.view_legalhold"]}

    @extend_schema(responses=HoldOutput)
    def get(self, request, pk: int):
        return Response(HoldOutput(get_object_or_404(_holds(), pk=pk)).data)


class HoldReleaseApi(Api):
    """Release an active hold; the reason is recorded."""

    required_permissions = {"POST": ["archive.release_legal_hold"]}

    class HoldReleaseInput(serializers.Serializer):
        reason = serializers.CharField()

    @extend_schema(request=HoldReleaseInput, responses=HoldOutput)
    def post(self, request, pk: int):
        hold = get_object_or_404(LegalHold, pk=pk)
        data = self.HoldReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        legal_hold_release(hold=hold, reason=data.validated_data["reason"], actor=request.user)
        return Response(HoldOutput(_holds().get(pk=pk)).data)
