"""Conventions shared by every API endpoint: errors, permissions, pagination, schema."""

import re
from types import SimpleNamespace

from django import forms
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from archive.errors import ArchiveError
from archive.moments import moment_storable
from config.api_contract import request_check

# Domain error codes with a status of their own; every other refusal is a 409 conflict.
# A service's "invalid" is a 409 too: the request reaching it already matched the schema
# (config.api_contract answers 400 for what does not), so a rule the schema cannot express
# refused it, such as a canonical copy that is not one of the pair.
ERROR_STATUS = {
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


def _only_unknown_references(exc: exceptions.ValidationError) -> bool:
    def codes(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from codes(value)
        elif isinstance(node, list):
            for value in node:
                yield from codes(value)
        else:
            yield node

    found = set(codes(exc.get_codes()))
    return found == {"does_not_exist"}


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
    request = context.get("request")
    if isinstance(exc, (DataError, OverflowError)) and request is not None and request.GET:
        # A filter value the database cannot compare (the filters normalise what they know;
        # this catches any they do not): the request's fault, said so.
        return Response(
            error_body(
                code="invalid",
                message="A filter value is outside what the archive can store or compare.",
            ),
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
    if isinstance(exc, exceptions.ValidationError) and _only_unknown_references(exc):
        # Well-formed ids that name no object (now): the schema cannot say which ids exist.
        message = "The request names an object that does not exist; see details."
        response.data = error_body(code="unknown_reference", message=message, details=response.data)
        response.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, exceptions.ValidationError):
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

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {"page": {"minimum": 1}, "page_size": {"minimum": 1, "maximum": 500}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


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
    "409": "A business rule refused it (a legal hold, already decided, a licence conflict…), "
    "or it names an object that does not exist (`unknown_reference`).",
}


# Django refuses NUL characters in text, and DRF trims text before its blank check.
TEXT = r"^[^\x00]*$"
# Blank-allowed fields: drf-spectacular adds the empty string as a `oneOf` branch of its own.
TEXT_NOT_EMPTY = r"^[^\x00]+$"
NON_BLANK_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"


class Schema(AutoSchema):
    """The generated schema, with the common error body on every operation's error codes.

    Request bodies are documented as JSON (uploads as multipart): the API is specified, and
    checked (`config.api_contract`), for the one encoding clients are generated for.
    """

    def _get_serializer_field_meta(self, field, direction):
        # What DRF refuses in a request, said in the schema: text with a NUL character,
        # blank text (after trimming) where blank is not allowed, an empty list where a list
        # must name something.
        meta = super()._get_serializer_field_meta(field, direction)
        if field.read_only or direction != "request":
            return meta
        own_format = (serializers.EmailField, serializers.RegexField, serializers.SlugField)
        own_format += (serializers.URLField, serializers.UUIDField, serializers.IPAddressField)
        if isinstance(field, serializers.CharField) and not isinstance(field, own_format):
            meta["pattern"] = TEXT_NOT_EMPTY if field.allow_blank else NON_BLANK_TEXT
        if isinstance(field, serializers.ListField | serializers.ManyRelatedField):
            if not field.allow_empty:
                meta["minItems"] = 1
        return meta

    def map_parsers(self):
        media = super().map_parsers()
        return ["application/json"] if "application/json" in media else media

    def get_summary(self):
        summary = super().get_summary()
        if summary:
            return summary
        handler = getattr(self.view, self.method.lower(), None)
        text = (handler.__doc__ if handler else None) or ""
        if (
            not text
            and len([m for m in ("get", "post", "patch", "put", "delete") if hasattr(self.view, m)])
            == 1
        ):
            text = type(self.view).__doc__ or ""
        sentence = re.split(r"(?<=[.;:])\s", " ".join(text.split()), maxsplit=1)[0]
        if sentence:
            return sentence.rstrip(".;:")[:120]
        words = self.get_operation_id().split("_")
        verbs = {
            "list": "List",
            "create": "Create",
            "retrieve": "Show",
            "partial": "Change",
            "update": "Replace",
            "destroy": "Delete",
        }
        verb = next((verbs[w] for w in reversed(words) if w in verbs), words[-1].title())
        noun = " ".join(w for w in words if w not in verbs and w != "update")
        return f"{verb} {noun}"

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = {
            "application/json": {"schema": self.resolve_serializer(ErrorSerializer, "response").ref}
        }
        codes = ["400", "401", "403", "404", "409"]
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
                schema["pattern"] = TEXT
        responses = operation["responses"]
        for code in codes:
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code >= "400" and "content" not in response:
                response["content"] = error
        return operation


class Api(APIView):
    """The base of every endpoint: role permissions, the common errors, no format override.

    After authentication and permissions, the query string and JSON body are checked
    against the operation's schema (`config.api_contract`): what the schema calls invalid
    answers 400 before the handler runs.
    """

    schema = Schema()
    permission_classes = [RolePermission]
    content_negotiation_class = ContentNegotiation
    required_permissions: dict[str, list[str]] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request_check(request, self)


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


def _storable_id(value: int) -> int:
    # An id beyond what a database column holds names nothing; the query would overflow.
    return value if -(2**63) < value < 2**63 else 0


class _IdField(forms.IntegerField):
    def to_python(self, value):
        value = super().to_python(value)
        return None if value is None else _storable_id(value)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """An object's id: an integer (the schema says so), not any number."""

    field_class = _IdField


class _StorableMomentField(filter_fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        return None if moment is None else moment_storable(moment)


class DateTimeBoundFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date-time bound, compared in UTC whatever offset it was typed with."""

    field_class = _StorableMomentField


class _AnyIdChoiceField(filter_fields.ModelChoiceField):
    """An id filter that matches nothing for an id no object has, instead of refusing it."""

    def to_python(self, value):
        number = isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip())
        if number and _storable_id(int(value)) == 0:
            return 0
        try:
            return super().to_python(value)
        except DjangoValidationError:
            if number:
                return int(value)
            raise


class FilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        for name, filter_ in filterset.filters.items() if filterset else ():
            if type(filter_) is filters.ModelChoiceFilter:
                filter_.field_class = _AnyIdChoiceField
                filterset.form.fields[name].__class__ = _AnyIdChoiceField
        return filterset


class ListApi(Api):
    """An endpoint that lists a queryset through its django-filter FilterSet, a page at a time.

    `queryset` names the model (the schema reads the filters from it); the handler passes the
    selector's queryset to `list_response`.
    """

    filter_backends = [FilterBackend]
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
    # The one postprocessing hook of this module the settings name: links follow here.
    return schema_links(result)


def _component(schema: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node or {}


def _json_response(schema: dict, operation: dict) -> tuple[str, dict] | tuple[None, None]:
    for code in sorted(operation.get("responses", {})):
        if code.startswith("2"):
            content = operation["responses"][code].get("content", {})
            body = content.get("application/json", {}).get("schema")
            return code, _component(schema, body) if body else {}
    return None, None


def _link(schema, source: dict, target_id: str, name: str, pointer: str, **extra) -> None:
    code, body = _json_response(schema, source)
    if code is None:
        return
    link = {"operationId": target_id, **extra}
    if pointer:
        link["parameters"] = {"path.id": f"$response.body#{pointer}"}
    source["responses"][code].setdefault("links", {})[name] = link


# Links beyond the generic ones (list -> one, create -> one, one -> its actions): the review
# path an integrator follows, upload -> asset -> its pairs -> a pair -> decide -> undo.
EXTRA_LINKS = [
    ("assets_create", "candidates_list", "PairsOfTheAsset", {"query.asset": "/id"}),
    ("assets_retrieve", "candidates_list", "PairsOfTheAsset", {"query.asset": "/id"}),
    (
        "candidates_retrieve",
        "candidates_decision_create",
        "ConfirmKeepingA",
        {"path.id": "/id", "body": {"decision": "confirm", "canonical": "/asset_a"}},
    ),
    (
        "candidates_decision_create",
        "consolidations_retrieve",
        "TheConsolidation",
        {"path.id": "/consolidation"},
    ),
]


def schema_links(result):
    """OpenAPI links between operations, so a client (or a fuzzer) can follow real ids.

    Generic: a list's first result and a create's answer lead to the object, the object
    leads to each action under its path. Then the review path of EXTRA_LINKS.
    """
    by_path = {
        (path, method): operation
        for path, item in result["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for (path, method), operation in by_path.items():
        if "{" in path:
            continue
        detail = by_path.get((f"{path}{{id}}/", "get"))
        # Without a detail view, the reads under the object's path (a campaign's progress).
        targets = (
            [detail]
            if detail
            else [
                op
                for (p, m), op in by_path.items()
                if m == "get" and p.startswith(f"{path}{{id}}/")
            ]
        )
        for target in (t["operationId"] for t in targets):
            suffix = "" if detail else target.title().replace("_", "")
            if method == "get":
                _link(result, operation, target, f"FirstResult{suffix}", "/results/0/id")
            elif method == "post":
                _link(result, operation, target, f"Created{suffix}", "/id")
    for (path, method), operation in by_path.items():
        if method != "get" or not path.endswith("{id}/"):
            continue
        for (other, other_method), action in by_path.items():
            if other != path and other.startswith(path) and "{" not in other[len(path) :]:
                name = "".join(part.title() for part in re.split(r"[-/]", other[len(path) :]))
                name = f"{name}{other_method.title()}"
                _link(result, operation, action["operationId"], name, "/id")
    ids = {operation["operationId"]: operation for operation in by_path.values()}
    for source, target, name, wiring in EXTRA_LINKS:
        if source not in ids or target not in ids:
            continue
        code, _ = _json_response(result, ids[source])
        if code is None:
            continue
        link = {"operationId": target}
        parameters = {k: f"$response.body#{v}" for k, v in wiring.items() if k != "body"}
        if parameters:
            link["parameters"] = parameters
        if "body" in wiring:
            link["requestBody"] = {
                k: f"$response.body#{v}" if v.startswith("/") else v
                for k, v in wiring["body"].items()
            }
        ids[source]["responses"][code].setdefault("links", {})[name] = link
    return result
