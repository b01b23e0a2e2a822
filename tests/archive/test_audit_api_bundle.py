"""The API's audit export as one bundle: `bundle=true` answers a zip that verifies."""

import io

import pytest
from django.db import transaction

from archive import verifier
from archive.audit import audit_record
from archive.checkpoints import signing_key
from archive.models import AuditEvent
from tests.api.conftest import token_client
from tests.archive.people import person

pytestmark = pytest.mark.django_db


def test_a_token_client_downloads_a_bundle_that_verifies():
    officer = person("auditor", "archive.export_audit", "archive.view_auditevent")
    for verb in ("legalhold.placed", "asset.ingested", "legalhold.released"):
        with transaction.atomic():
            audit_record(actor=officer, verb=verb, object_type="thing", object_id=1)
    api = token_client(officer)
    logged = AuditEvent.objects.count()

    response = api.get("/api/v1/audit/export/?bundle=true&verb=legalhold.*&format=jsonl")
    body = b"".join(response.streaming_content)
    refused = api.get("/api/v1/audit/export/?bundle=true&since=someday")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["X-Audit-Upto"] == str(logged)
    report = verifier.bundle_verify(io.BytesIO(body), public_keys=[signing_key().public_raw])
    assert report.ok and (report.listed, report.withheld) == (2, logged - 2)
    assert AuditEvent.objects.filter(verb="audit.exported", actor=officer).count() == 1
    assert refused.status_code == 400
