"""The API's audit export writes an audit event, so a browser session cannot GET it.

A GET carries the session cookie from any page (a link, an <img>), with no CSRF token;
a token client sends its key in a header no other site can set. Sessions export through
the admin's form, a POST with its CSRF token.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from archive.models import AuditEvent
from archive.roles import roles_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    roles_setup()
    user = get_user_model().objects.create_user("officer", password="x")
    user.groups.add(Group.objects.get(name="Compliance"))
    return user


def test_a_session_cannot_export_with_a_get(client, officer):
    client.force_login(officer)

    response = client.get("/api/v1/audit/export/?format=csv")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(verb="audit.exported").exists()


def test_a_token_client_still_exports(officer):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=officer).key}")

    response = api.get("/api/v1/audit/export/?format=csv")

    assert response.status_code == 200
    assert AuditEvent.objects.filter(verb="audit.exported").count() == 1


def test_the_manifest_writes_nothing_and_stays_open_to_sessions(client, officer):
    client.force_login(officer)

    response = client.get("/api/v1/audit/export/manifest/?format=csv")

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(verb="audit.exported").exists()
