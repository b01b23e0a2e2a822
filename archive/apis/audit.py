"""The audit trail: list events, export them (streamed, with a manifest), verify the chain.

Filters mean what they mean for `export_audit`: the list and the export both go through
`archive.audit_export.audit_export_events`.
"""

import tempfile

from django.http import FileResponse, StreamingHttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from archive.audit import EVENT_FIELDS, audit_verify
from archive.audit_export import (
    FORMATS,
    audit_bundle_write,
    audit_export_events,
    audit_export_filter_parse,
    audit_export_head,
    audit_export_stream,
    audit_exported_record,
)
from archive.errors import ArchiveError
from archive.models import AuditEvent
from config.api import Api, ListApi

FILTER_HELP = {
    "since": "ISO date or date-time, inclusive",
    "until": "ISO date or date-time, exclusive",
    "actor": "user name as recorded",
    "object": "an object type (archive.asset) or type and id (archive.asset:7)",
    "verb": 'a verb (legalhold.placed), or a prefix ending in "*" (legalhold.*)',
}


# What `since` and `until` accept, said so the schema matches the parser: an ISO 8601 date
# or an RFC 3339 date and time.
ISO_MOMENT = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}


@extend_schema_field(ISO_MOMENT)
class MomentFilter(filters.CharFilter):
    pass


@extend_schema_field(ISO_MOMENT)
class MomentField(serializers.CharField):
    pass


def _parsed(values: dict):
    try:
        return audit_export_filter_parse(
            since=values.get("since") or "",
            until=values.get("until") or "",
            actor=values.get("actor") or "",
            obj=values.get("object") or "",
            verb=values.get("verb") or "",
        )
    except ArchiveError as exc:
        raise ValidationError({"filters": [exc.message.replace("--", "")]}) from exc


def _head(upto: int | None) -> tuple[int, str]:
    try:
        return audit_export_head(upto=upto)
    except ArchiveError as exc:
        raise ValidationError({"upto": [exc.message]}) from exc


class AuditEventOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = list(EVENT_FIELDS)


class AuditEventFilter(filters.FilterSet):
    since = MomentFilter(help_text=FILTER_HELP["since"])
    until = MomentFilter(help_text=FILTER_HELP["until"])
    actor = filters.CharFilter(help_text=FILTER_HELP["actor"])
    object = filters.CharFilter(help_text=FILTER_HELP["object"])
    verb = filters.CharFilter(help_text=FILTER_HELP["verb"])

    class Meta:
        model = AuditEvent
        fields = ["since", "until", "actor", "object", "verb"]

    def filter_queryset(self, queryset):
        # The export's selector applies them, so the list and the export always agree.
        parsed = _parsed(self.form.cleaned_data)
        return audit_export_events(filters=parsed, upto=audit_export_head()[0])


class AuditEventListApi(ListApi):
    queryset = AuditEvent.objects.none()
    filterset_class = AuditEventFilter
    required_permissions = {"GET": ["archive.view_auditevent"]}

    @extend_schema(responses=AuditEventOutput(many=True))
    def get(self, request):
        return self.list_response(AuditEvent.objects.all(), AuditEventOutput)


class AuditExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS, default="csv")
    since = MomentField(required=False, help_text=FILTER_HELP["since"])
    until = MomentField(required=False, help_text=FILTER_HELP["until"])
    actor = serializers.CharField(required=False, help_text=FILTER_HELP["actor"])
    object = serializers.CharField(required=False, help_text=FILTER_HELP["object"])
    verb = serializers.CharField(required=False, help_text=FILTER_HELP["verb"])
    bundle = serializers.BooleanField(
        default=False,
        help_text="one zip instead: the events, a stub per event the filters leave out, an "
        "inclusion proof per event and the signed checkpoint (the log is sealed first; "
        "`upto` does not apply); check it with archive/verifier.py and the public key",
    )
    upto = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text="the chain head to export up to (default: now); the export answers with "
        "it in `X-Audit-Upto`, and the manifest of the same export needs it",
    )


def _export(request):
    query = AuditExportQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    filters = _parsed(values)
    upto = _head(values.get("upto"))[0]
    chunks, result = audit_export_stream(filters=filters, fmt=values["format"], upto=upto)
    return chunks, result, f"keepsake-audit-upto-{upto}.{values['format']}"


def _wants_bundle(request) -> bool:
    query = AuditExportQuery(data=request.query_params)
    return query.is_valid() and query.validated_data["bundle"]


def _bundle_response(request):
    query = AuditExportQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    filters = _parsed(query.validated_data)
    spool = tempfile.TemporaryFile()
    try:
        result = audit_bundle_write(
            fp=spool, filters=filters, fmt=query.validated_data["format"], actor=request.user
        )
    except ArchiveError as exc:
        spool.close()
        raise ValidationError({"filters": [exc.message]}) from exc
    spool.seek(0)
    response = FileResponse(
        spool, as_attachment=True, filename=result.name, content_type="application/zip"
    )
    response["X-Audit-Upto"] = str(result.checkpoint.size)
    return response


class AuditExportApi(Api):
    """Stream the events up to the chain head as CSV or JSON lines; the export is audited."""

    required_permissions = {"GET": ["archive.export_audit"]}

    @extend_schema(
        parameters=[AuditExportQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="format=csv"),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="format=jsonl"
            ),
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="bundle=true"
            ),
        },
    )
    def get(self, request):
        if isinstance(request.successful_authenticator, SessionAuthentication):
            # The export writes an audit event, and any page can make a browser GET with
            # the session cookie (no CSRF token); a token sits in a header no page sets.
            raise PermissionDenied(
                "Export with a token; in a browser, use the admin's export form (a POST)."
            )
        if _wants_bundle(request):
            return _bundle_response(request)
        chunks, result, name = _export(request)
        audit_exported_record(result=result, actor=request.user)
        content_type = "text/csv" if result.fmt == "csv" else "application/x-ndjson"
        response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Audit-Upto"] = str(result.head[0])
        return response


class AuditExportManifestApi(Api):
    """The manifest of the export with the same filters and `upto`: rows, head, SHA-256."""

    required_permissions = {"GET": ["archive.export_audit"]}

    @extend_schema(parameters=[AuditExportQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        chunks, result, name = _export(request)
        # The same bytes again, hashed and counted but not sent: pinned to event #upto,
        # they are the bytes the export gave.
        for _chunk in chunks:
            pass
        return Response(result.manifest(file_name=name))


class ChainProblemOutput(serializers.Serializer):
    sequence = serializers.IntegerField(allow_null=True, help_text="null: the tail was cut")
    message = serializers.CharField()


class AuditVerifyApi(Api):
    """Recompute the hash chain from event #1 to the chain head; name the first fault."""

    required_permissions = {"GET": ["archive.view_auditevent"]}

    class AuditVerifyOutput(serializers.Serializer):
        ok = serializers.BooleanField()
        checked = serializers.IntegerField(help_text="events verified")
        head_hash = serializers.CharField(allow_blank=True)
        problem = ChainProblemOutput(allow_null=True)

    @extend_schema(responses=AuditVerifyOutput)
    def get(self, request):
        report = audit_verify()
        problem = report.problem
        body = {
            "ok": report.ok,
            "checked": report.checked,
            "head_hash": report.head_hash,
            "problem": {"sequence": problem.sequence, "message": problem.message}
            if problem
            else None,
        }
        return Response(self.AuditVerifyOutput(body).data)
