"""The API refuses what its own OpenAPI schema says is invalid, before any view code runs.

DRF and django-filter are lenient where the schema is strict: a repeated `page_size` takes
the last value, `undone=maybe` is read as "no filter", a JSON `"7"` passes for the integer
7 and `true` for the string "True". A client generated from the schema must be able to
trust it both ways, so every request's query string and JSON body are checked against the
operation's parameters and request body as the schema generator describes them, and a
mismatch answers 400 with the common error body, `details` naming each offending field.
"""

import copy
import functools
import re

import jsonschema
from django.urls import Resolver404, resolve
from rest_framework import exceptions

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")


@functools.cache
def _operations() -> dict:
    """(view class, METHOD) -> (query parameters, JSON body schema or None), from the schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    found = {}
    for path, item in schema["paths"].items():
        try:
            view = resolve(re.sub(r"\{[^}]+\}", "1", path)).func.view_class
        except Resolver404:
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            query = {
                p["name"]: _json_schema(p.get("schema", {}), components)
                for p in operation.get("parameters", [])
                if p.get("in") == "query"
            }
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            body = _request_schema(_json_schema(body, components)) if body else None
            required = operation.get("requestBody", {}).get("required", False)
            found[(view, method.upper())] = (query, body, required)
    return found


def _json_schema(node, components: dict, seen: frozenset = frozenset()):
    """An OpenAPI 3.0 schema as plain JSON Schema: references inlined, `nullable` as a type."""
    if isinstance(node, list):
        return [_json_schema(value, components, seen) for value in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return {}
        return _json_schema(components[name], components, seen | {name})
    out = {key: _json_schema(value, components, seen) for key, value in node.items()}
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "enum" in out:
            out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if "enum" in out and None in out["enum"] and out.get("type") and "null" not in out["type"]:
        out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else out["type"]
    return out


def _request_schema(node):
    """Drop read-only properties: a request may leave them out (and they are ignored)."""
    node = copy.deepcopy(node)
    properties = node.get("properties", {})
    for name in [n for n, p in properties.items() if isinstance(p, dict) and p.get("readOnly")]:
        del properties[name]
        if name in node.get("required", []):
            node["required"].remove(name)
    return node


def _types(schema: dict) -> list:
    kind = schema.get("type")
    if kind is None and "enum" in schema:
        return ["string"]
    return kind if isinstance(kind, list) else [kind]


def _from_query(raw: str, schema: dict):
    """The typed value a query string carries, or the raw string when it matches no type."""
    kinds = _types(schema)
    if "integer" in kinds and _INTEGER.fullmatch(raw):
        return int(raw)
    if "number" in kinds and _NUMBER.fullmatch(raw):
        return float(raw)
    if "boolean" in kinds and raw in ("true", "false"):
        return raw == "true"
    return raw


def _query_errors(query_params, declared: dict) -> dict:
    errors = {}
    for name, schema in declared.items():
        values = query_params.getlist(name)
        if not values:
            continue
        if "array" in _types(schema):
            value = [_from_query(v, schema.get("items", {})) for v in values]
        elif len(values) > 1:
            errors[name] = ["Give this parameter once."]
            continue
        else:
            value = _from_query(values[0], schema)
        message = _first_error(value, schema)
        if message:
            errors[name] = [message]
    return errors


def _first_error(value, schema: dict) -> str | None:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    return None if error is None else _plain(error)


def _plain(error) -> str:
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.')}: {error.message}" if where else error.message


def _body_errors(data, schema: dict) -> dict:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors: dict = {}
    for error in validator.iter_errors(data):
        path = list(error.absolute_path)
        if not path and error.validator == "required":
            missing = re.match(r"'([^']+)'", error.message)
            key = missing.group(1) if missing else "non_field_errors"
            errors.setdefault(key, []).append("This field is required.")
            continue
        key = str(path[0]) if path else "non_field_errors"
        errors.setdefault(key, []).append(_plain(error))
    return errors


def request_check(request, view) -> None:
    """Raise a 400 ValidationError when the request contradicts the operation's schema."""
    declared = _operations().get((type(view), request.method))
    if declared is None:
        return
    query, body, required = declared
    errors = _query_errors(request.query_params, query)
    if body is not None and request.content_type.split(";")[0].strip() == "application/json":
        raw = request.body
        if raw.strip() or required:
            errors.update(_body_errors(request.data, body))
    if errors:
        raise exceptions.ValidationError(errors)
