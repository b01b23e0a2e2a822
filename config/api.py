"""Conventions shared by every API endpoint: errors, pagination, schema metadata."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler

from archive.errors import ArchiveError

ERROR_STATUS = {
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


def api_exception_handler(exc, context):
    """Translate domain, validation and DRF errors into the common error body."""
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
