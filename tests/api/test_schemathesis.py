"""Schemathesis against the live schema: every operation, a bounded number of examples each.

The schema is loaded from the running WSGI application (not the committed file), and each
generated request is sent in-process with a superuser's token, so every operation gets past
authentication into its validation and services. Checks: no server error (5xx), and every
answer's status, content type, headers and body conform to the schema.
"""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from archive.services import collection_get_or_create
from config.wsgi import application
from tests.api.conftest import candidate_of, upload_pair

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Examples and fuzzing, positive and negative, 10 each; no coverage phase (it enumerates
# every case the schema allows, unbounded) and no stateful phase.
CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": 10, "database": "none", "deterministic": True},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application, config=CONFIG)


@pytest.fixture
def connection_kept():
    """Keep the database connection across requests, as Django's test client does.

    The real WSGI handler closes it when a request finishes (production behaviour); the
    test's transaction lives on that connection.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def superuser_headers(db, connection_kept):
    """A superuser's token, and a pair of assets so ids 1 and 2 (and pair 1) exist."""
    collection = collection_get_or_create(name="Field photos")
    candidate_of(*upload_pair(collection, 701))
    user = get_user_model().objects.create_superuser("fuzzer", password="x")
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_and_never_fails(case, superuser_headers):
    case.call_and_validate(headers=superuser_headers, checks=CHECKS)
