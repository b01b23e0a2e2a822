"""URLs of the REST API, version 1, with its OpenAPI schema and interactive docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from archive.apis import assets, audit, holds, intake, records
from config.api import NotFoundApi
from dedup import apis as dedup
from dedup import apis_releases
from retention import apis as retention

urlpatterns = [
    path("assets/", assets.AssetListApi.as_view(), name="asset-list"),
    path("assets/<int:pk>/", assets.AssetDetailApi.as_view(), name="asset-detail"),
    path("entries/", records.EntryListApi.as_view(), name="entry-list"),
    path("entries/<int:pk>/", records.EntryDetailApi.as_view(), name="entry-detail"),
    path("licences/", records.LicenceListApi.as_view(), name="licence-list"),
    path("licences/<int:pk>/", records.LicenceDetailApi.as_view(), name="licence-detail"),
    path("licences/compare/", records.LicenceCompareApi.as_view(), name="licence-compare"),
    path("licences/sign-off/", records.LicenceSignOffApi.as_view(), name="licence-sign-off"),
    path("holds/", holds.HoldListApi.as_view(), name="hold-list"),
    path("holds/<int:pk>/", holds.HoldDetailApi.as_view(), name="hold-detail"),
    path("holds/<int:pk>/release/", holds.HoldReleaseApi.as_view(), name="hold-release"),
    path("intake/", intake.IntakeListApi.as_view(), name="intake-list"),
    path("intake/<int:pk>/", intake.IntakeDetailApi.as_view(), name="intake-detail"),
    path("intake/<int:pk>/decision/", intake.IntakeDecisionApi.as_view(), name="intake-decision"),
    path("audit/events/", audit.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit/export/", audit.AuditExportApi.as_view(), name="audit-export"),
    path(
        "audit/export/manifest/",
        audit.AuditExportManifestApi.as_view(),
        name="audit-export-manifest",
    ),
    path("audit/verify/", audit.AuditVerifyApi.as_view(), name="audit-verify"),
    path("candidates/", dedup.CandidateListApi.as_view(), name="candidate-list"),
    path(
        "candidates/bulk-confirm/",
        dedup.CandidateBulkConfirmApi.as_view(),
        name="candidate-bulk-confirm",
    ),
    path("candidates/groups/", dedup.GroupListApi.as_view(), name="candidate-group-list"),
    path(
        "candidates/groups/confirm/",
        dedup.GroupConfirmApi.as_view(),
        name="candidate-group-confirm",
    ),
    path("candidates/<int:pk>/", dedup.CandidateDetailApi.as_view(), name="candidate-detail"),
    path(
        "candidates/<int:pk>/decision/",
        dedup.CandidateDecisionApi.as_view(),
        name="candidate-decision",
    ),
    path("consolidations/", dedup.ConsolidationListApi.as_view(), name="consolidation-list"),
    path(
        "consolidations/<int:pk>/",
        dedup.ConsolidationDetailApi.as_view(),
        name="consolidation-detail",
    ),
    path(
        "consolidations/<int:pk>/undo/",
        dedup.ConsolidationUndoApi.as_view(),
        name="consolidation-undo",
    ),
    path("quarantine/", retention.QuarantineListApi.as_view(), name="quarantine-list"),
    path(
        "quarantine/<int:pk>/restore/",
        retention.QuarantineRestoreApi.as_view(),
        name="quarantine-restore",
    ),
    path("dispositions/", retention.DispositionListApi.as_view(), name="disposition-list"),
    path(
        "dispositions/<int:pk>/",
        retention.DispositionDetailApi.as_view(),
        name="disposition-detail",
    ),
    path(
        "dispositions/<int:pk>/approve/",
        retention.DispositionApproveApi.as_view(),
        name="disposition-approve",
    ),
    path(
        "dispositions/<int:pk>/execute/",
        retention.DispositionExecuteApi.as_view(),
        name="disposition-execute",
    ),
    path("reports/duplication/", dedup.DuplicationReportApi.as_view(), name="report-duplication"),
    path("reports/storage/", retention.StorageReportApi.as_view(), name="report-storage"),
    *apis_releases.urlpatterns,
    path("", include("retention.apis_campaigns")),  # campaigns, options, certificates
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET only: OPTIONS would render the metadata through the HTML template and fail.
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", http_method_names=["get", "head"]),
        name="docs",
    ),
    # Last: any other path ending in a slash answers the common 404 body (a path without
    # the slash still gets the middleware's redirect to the slashed one).
    re_path(r"^(?:.*/)?$", NotFoundApi.as_view(), name="not-found"),
]
