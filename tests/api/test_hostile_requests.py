"""Hostile requests answer 4xx with the error body, and missing bytes 503 with an alert.

Nested JSON deep enough to exhaust the parser's recursion, OPTIONS on the HTML docs page,
and an asset whose stored bytes are gone (the file view and the API): none may answer 500.
"""

import pytest
from django.core.files.storage import storages
from django.test import Client
from rest_framework.test import APIRequestFactory, force_authenticate

from archive.models import AuditEvent
from archive.services import collection_get_or_create
from archive.storage import bytes_open
from config.api import Api
from retention.models import FixityCheck
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("depth", [2_000, 100_000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_past_the_recursion_limit_is_a_400(clients, depth, opener):
    closer = "]" if opener == "[" else "}"
    body = opener * depth + "1" + closer * depth

    response = clients["Compliance"].post(
        "/api/v1/holds/", data=body, content_type="application/json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "nested" in error["message"]


def test_options_on_the_docs_page_is_not_a_server_error(clients):
    for path in ("/api/v1/docs/", "/api/v1/schema/"):
        response = clients["Operator"].options(path)

        assert response.status_code < 500, path


def _missing(collection_name="Field photos"):
    asset = ingest_picture(collection=collection_get_or_create(name=collection_name)).asset
    storages[asset.storage_alias].delete(asset.storage_key)
    return asset


def _alerts(asset):
    return (
        FixityCheck.objects.filter(asset=asset, ok=False).count(),
        AuditEvent.objects.filter(verb="asset.fixity_failed", object_id=str(asset.pk)).count(),
    )


def test_the_file_view_answers_503_and_records_a_fixity_alert(members):
    asset = _missing()
    client = Client()
    client.force_login(members["Archivist"])

    response = client.get(f"/assets/{asset.pk}/file/")

    assert response.status_code == 503
    assert b"missing" in response.content
    assert response["X-Content-Type-Options"] == "nosniff"
    assert _alerts(asset) == (1, 1)


def test_a_rendition_of_missing_bytes_answers_503_with_an_alert(members):
    asset = _missing()
    client = Client()
    client.force_login(members["Archivist"])

    response = client.get(f"/assets/{asset.pk}/thumb.jpg")

    assert response.status_code == 503
    assert _alerts(asset) == (1, 1)


class _ReadBytesApi(Api):
    """An endpoint that reads an asset's stored bytes, as consolidation or reports do."""

    required_permissions = {"GET": ["archive.view_asset"]}

    def get(self, request, asset):
        with bytes_open(alias=asset.storage_alias, key=asset.storage_key) as fp:
            fp.read()


def test_the_api_answers_503_with_the_error_body_and_records_an_alert(members):
    asset = _missing()
    request = APIRequestFactory().get("/api/v1/anything/")
    force_authenticate(request, user=members["Archivist"])

    response = _ReadBytesApi.as_view()(request, asset=asset)

    assert response.status_code == 503
    assert response.data["error"]["code"] == "bytes_missing"
    assert str(asset.pk) in response.data["error"]["message"]
    assert _alerts(asset) == (1, 1)
