"""Conventions shared by every API endpoint: errors, permissions, pagination, schema."""

import re
from types import SimpleNamespace

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from archive.errors import ArchiveError

# Domain error codes with a status of their own; every other refusal is a 409 conflict.
ERROR_STATUS = {
    "invalid": status.HTTP_400_BAD_REQUEST,
    "permission_denied": status.HTTP_403_FORBIDDEN,
    "invalid_image": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "not_found": status.HTTP_404_NOT_FOUND,
    "conflict": status.HTTP_409_CONFLICT,
    "too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
}


def error_body(*, code: str, message: str, details=None) -> dict:
    """The one error shape every endpoint answers with."""
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def _raised_by_parser(exc: BaseException) -> bool:
    # A RecursionError is the request's fault only when the body parser raised it (JSON
    # nested deeper than the interpreter's stack); anywhere else it is a bug, a 500.
    parsers = ("rest_framework/parsers.py", "json/decoder.py")
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(parsers):
            return True
        tb = tb.tb_next
    return False


def _unreadable_bytes_response(exc: OSError) -> Response | None:
    """503 for stored bytes a view could not open: the asset is re-checked and alerted."""
    from archive import hooks
    from archive.models import Asset

    name = str(exc.filename or exc)
    found = re.search(r"[0-9a-f]{64}", name)
    asset = Asset.objects.holding_bytes().filter(sha256=found.group(0)).first() if found else None
    if asset is None or not name.rstrip("'\"").endswith(asset.storage_key):
        return None
    for recheck in hooks.asset_bytes_unreadable:
        recheck(asset=asset)
    message = (
        f"The stored bytes of asset {asset.pk} are missing or unreadable; "
        "a fixity alert was recorded for the operators."
    )
    return Response(
        error_body(code="bytes_missing", message=message),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def api_exception_handler(exc, context):
    """Translate domain, validation and DRF errors into the common error body."""
    if isinstance(exc, RecursionError) and _raised_by_parser(exc):
        return Response(
            error_body(code="parse_error", message="The JSON body is nested too deeply."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, OSError) and (response := _unreadable_bytes_response(exc)):
        return response
    if isinstance(exc, ArchiveError):
        return Response(
            error_body(code=exc.code, message=exc.message),
            status=ERROR_STATUS.get(exc.code, status.HTTP_409_CONFLICT),
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(code="too_large", message=str(exc)),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        # Raised while parsing the body (too many fields, a malformed multipart header);
        # Django would answer with an HTML page.
        return Response(
            error_body(code="invalid", message=str(exc) or "The request is malformed."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, IntegrityError):
        # A constraint the service validated was taken by a concurrent request meanwhile.
        return Response(
            error_body(code="conflict", message="A concurrent change conflicts; try again."),
            status=status.HTTP_409_CONFLICT,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message = "The request is not valid; see details."
        response.data = error_body(code="invalid", message=message, details=response.data)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(code=code, message=str(detail or exc.default_detail))
    return response


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class RolePermission(BasePermission):
    """Each view names the permissions each HTTP method needs, in `required_permissions`.

    `{"GET": ["archive.view_asset"], "POST": ["archive.add_asset"]}`: the roles of
    `archive.roles` grant them. HEAD needs what GET needs, OPTIONS only a user; anonymous
    requests are refused (401), and so is a method a view handles without naming its
    permissions.
    """

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method == "OPTIONS":
            # The endpoint's description (parsers, renderers) is no secret from a user.
            return True
        method = "GET" if request.method == "HEAD" else request.method
        needed = view.required_permissions.get(method)
        if needed is None:
            # A method the view does not handle falls through to its 405 answer.
            return not hasattr(view, request.method.lower())
        return user.has_perms(needed)


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation without the `?format=` override, which would take a filter's name.

    Asset lists filter by `format` (JPEG, PNG) and the audit export takes `format=csv`;
    DRF would read either as a renderer name and answer 404.
    """

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


def object_list(child: serializers.Field, *, max_length: int, **kwargs) -> serializers.ListField:
    """A list of references (ids, names) with a bound on its length, for bulk inputs."""
    return serializers.ListField(child=child, max_length=max_length, **kwargs)


class ErrorSerializer(serializers.Serializer):
    class ErrorDetail(serializers.Serializer):
        code = serializers.CharField()
        message = serializers.CharField()
        details = serializers.JSONField(required=False, help_text="per field, when invalid")

    error = ErrorDetail()


ERROR_DESCRIPTIONS = {
    "400": "The request is not valid; `details` says what, field by field.",
    "401": "No valid token or session.",
    "403": "The user's roles do not grant this.",
    "404": "No such object, or no such page.",
    "409": "A business rule refused it (a legal hold, already decided, a licence conflict…).",
}


class Schema(AutoSchema):
    """The generated schema, with the common error body on every operation's error codes."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = {
            "application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}
        }
        codes = ["400", "401", "403", "404"] + ([] if self.method == "GET" else ["409"])
        responses = operation["responses"]
        for code in codes:
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code >= "400" and "content" not in response:
                response["content"] = error
        return operation


class Api(APIView):
    """The base of every endpoint: role permissions, the common errors, no format override."""

    schema = Schema()
    permission_classes = [RolePermission]
    content_negotiation_class = ContentNegotiation
    required_permissions: dict[str, list[str]] = {}


class NotFoundApi(APIView):
    """Any other URL under the API: the common 404 body, not Django's HTML page.

    A malformed id (`/assets/abc/`) matches no route; API clients still get JSON.
    """

    authentication_classes: list = []
    permission_classes: list = []
    content_negotiation_class = ContentNegotiation

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("No such endpoint (or a malformed id in its path).")


class ListApi(Api):
    """An endpoint that lists a queryset through its django-filter FilterSet, a page at a time.

    `queryset` names the model (the schema reads the filters from it); the handler passes the
    selector's queryset to `list_response`.
    """

    filter_backends = [DjangoFilterBackend]
    pagination_class = Pagination

    def list_response(self, queryset, serializer_class, page_context=None) -> Response:
        """Filter, paginate and serialise; page_context(page) adds to the serializer context."""
        for backend in self.filter_backends:
            queryset = backend().filter_queryset(self.request, queryset, self)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        context = {"request": self.request, **(page_context(page) if page_context else {})}
        data = serializer_class(page, many=True, context=context).data
        return paginator.get_paginated_response(data)


def schema_without_database_ranges(result, generator, request, public):
    """Drop integer bounds that come from the database backend, not from the API.

    Model integer fields get the backend's column range as minimum/maximum (SQLite's is
    64-bit, PostgreSQL's `integer` 32-bit), so the schema would change with the database it
    was generated on; the API itself promises no such bounds.
    """
    bounds = {32767, -32768, 2147483647, -2147483648, 9223372036854775807, -9223372036854775808}

    def strip(node):
        if isinstance(node, dict):
            if node.get("type") == "integer":
                for key in ("maximum", "minimum"):
                    if node.get(key) in bounds:
                        node.pop(key)
                if node.get("format") == "int64":
                    node.pop("format")
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(result)
    return result
