"""What every endpoint shares: the error body, JSON for unknown paths, no `?format=` trap."""

import pytest
from rest_framework.test import APIClient

from archive.services import collection_get_or_create
from tests.archive.helpers import ingest_picture

pytestmark = pytest.mark.django_db


def error(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


def test_unknown_paths_and_malformed_ids_answer_the_json_404(clients):
    client = clients["Operator"]

    for path in ("/api/v1/nothing/", "/api/v1/assets/abc/", "/api/v1/assets/999999/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert error(response)["code"] == "not_found"


def test_a_missing_slash_still_redirects(clients):
    response = clients["Operator"].get("/api/v1/assets")

    assert response.status_code == 301
    assert response["Location"].endswith("/api/v1/assets/")


def test_filtering_by_format_is_a_filter_not_a_renderer(clients):
    ingest_picture(collection=collection_get_or_create(name="Field photos"))

    jpeg = clients["Operator"].get("/api/v1/assets/?format=JPEG")
    png = clients["Operator"].get("/api/v1/assets/?format=PNG")

    assert (jpeg.status_code, jpeg.json()["count"]) == (200, 1)
    assert png.json()["count"] == 0


def test_anonymous_is_asked_for_a_token_and_methods_not_offered_are_405(clients):
    anonymous = APIClient().get("/api/v1/assets/")
    delete = clients["Archivist"].delete("/api/v1/candidates/1/")
    options = clients["Licensing"].options("/api/v1/candidates/bulk-confirm/")

    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert error(anonymous)["code"] == "not_authenticated"
    assert delete.status_code == 405
    assert error(delete)["code"] == "method_not_allowed"
    assert options.status_code == 200


def test_bodies_too_large_to_parse_answer_the_common_error(clients, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    body = "&".join(f"assets={i}" for i in range(10)) + "&reason=x"

    response = clients["Archivist"].post(
        "/api/v1/dispositions/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert "exceeded" in error(response)["message"]


def test_validation_errors_name_each_field(clients):
    response = clients["Compliance"].post(
        "/api/v1/holds/", {"matter_reference": "", "assets": ["x"]}, format="json"
    )

    details = error(response)["details"]
    assert response.status_code == 400
    assert set(details) == {"matter_reference", "reason", "assets"}
