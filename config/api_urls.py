"""URLs of the REST API, version 1, with its OpenAPI schema and interactive docs."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from archive import apis as archive_apis
from dedup import apis as dedup_apis

urlpatterns = [
    path("assets/", archive_apis.AssetListApi.as_view(), name="asset-list"),
    path("assets/<int:pk>/", archive_apis.AssetDetailApi.as_view(), name="asset-detail"),
    path("candidates/", dedup_apis.CandidateListApi.as_view(), name="candidate-list"),
    path("candidates/<int:pk>/", dedup_apis.CandidateDetailApi.as_view(), name="candidate-detail"),
    path(
        "reports/duplication/", dedup_apis.DuplicationReportApi.as_view(), name="report-duplication"
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
