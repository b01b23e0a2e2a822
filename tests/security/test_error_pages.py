"""Every 500 is a plain page (or the API's error body), never Django's technical page."""

import pytest
from django.test import Client, override_settings

from tests.security.urls_boom import SECRET_DETAIL

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_boom")]

TECHNICAL = ["Traceback", SECRET_DETAIL, "RuntimeError", "SECRET_KEY", "settings.py"]


@pytest.fixture
def anonymous():
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("debug", [False, True])
def test_a_failing_page_answers_the_plain_error_page(anonymous, debug):
    with override_settings(DEBUG=debug):
        response = anonymous.get("/boom/", HTTP_ACCEPT="text/html")

    body = response.content.decode()
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "Something went wrong" in body
    assert not [word for word in TECHNICAL if word in body]


@pytest.mark.parametrize("debug", [False, True])
def test_a_failing_endpoint_answers_the_common_error_body(anonymous, debug):
    with override_settings(DEBUG=debug):
        response = anonymous.get("/api/v1/boom/", HTTP_ACCEPT="application/json")

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "server_error", "message": "Internal server error; it was logged."}
    }
    assert not [word for word in TECHNICAL if word in response.content.decode()]


def test_the_error_is_still_logged(anonymous, caplog):
    anonymous.get("/boom/")

    assert any(r.name == "django.request" and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(("path", "status"), [("/no-such-page/", 404), ("/admin/nope/", 404)])
def test_other_errors_answer_plain_pages(anonymous, admin_user, path, status):
    anonymous.force_login(admin_user)

    response = anonymous.get(path)

    assert response.status_code == status
    assert "Traceback" not in response.content.decode()
