"""The OpenAPI schema is generated from the code and the committed copy does not drift."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.yml"

pytestmark = pytest.mark.django_db


def test_committed_schema_matches_the_code():
    out = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)

    assert out.getvalue() == SCHEMA.read_text(encoding="utf-8"), (
        "docs/openapi.yml is stale: run `make schema` and commit it"
    )


def test_schema_and_docs_are_served(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("reader"))

    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200 and b"/api/v1/assets/" in schema.content
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
