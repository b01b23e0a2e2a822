"""Originals are served as the format the probe found, never as what their name claims.

A valid image uploaded as `report.html` (or .svg, .xhtml) must not become a page on the
admin's origin: the content type comes from Asset.format, only the raster types browsers
render safely are inline, and every file answer carries `Content-Security-Policy:
sandbox` and `X-Content-Type-Options: nosniff`. Files and renditions need view_asset.
"""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.archive.helpers import ingest_bytes
from tests.archive.people import person, role_member
from tests.conftest import image_bytes, make_image, make_scene

pytestmark = pytest.mark.django_db

INLINE = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
ATTACHED = {"TIFF": "image/tiff", "BMP": "image/bmp"}
HOSTILE_NAMES = [
    "report.html",
    "payload.svg",
    "page.xhtml",
    "page.htm",
    "feed.xml",
    "noextension",
    "photo.png.html",
    "x.jpg;.html",
]
SEED = iter(range(1000, 100000))


def _asset(collection, fmt: str, name: str):
    data = image_bytes(make_scene(next(SEED)), fmt)
    return ingest_bytes(data, collection=collection, path=name).asset


def _file(client, asset):
    return client.get(reverse("archive:asset-file", args=[asset.pk]))


def _assert_safe_headers(response):
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert not any(
        kind in response["Content-Type"] for kind in ("html", "svg", "xml", "javascript")
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_image_named_like_a_page_is_served_as_the_image_it_is(admin_client, collection, name):
    asset = _asset(collection, "PNG", name)

    response = _file(admin_client, asset)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    _assert_safe_headers(response)
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline;")
    # Saved to disk, the file opens as what it is, not as the page its name claims.
    assert disposition.rstrip('"').endswith(".png")


@pytest.mark.parametrize(("fmt", "mime"), sorted(INLINE.items()))
def test_safe_raster_types_are_inline(admin_client, collection, fmt, mime):
    response = _file(admin_client, _asset(collection, fmt, "report.html"))

    assert response["Content-Type"] == mime
    assert response["Content-Disposition"].startswith("inline;")
    _assert_safe_headers(response)


@pytest.mark.parametrize(("fmt", "mime"), sorted(ATTACHED.items()))
def test_other_formats_are_attachments(admin_client, collection, fmt, mime):
    response = _file(admin_client, _asset(collection, fmt, "scan.svg"))

    assert response["Content-Type"] == mime
    assert response["Content-Disposition"].startswith("attachment;")
    _assert_safe_headers(response)


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=1, max_size=60).filter(lambda n: n.strip("./\\\x00")))
def test_no_file_name_changes_the_type(admin_client, collection, name):
    asset = _asset(collection, "GIF", name.replace("\x00", "") or "x")

    response = _file(admin_client, asset)

    assert response["Content-Type"] == "image/gif"
    _assert_safe_headers(response)


def test_renditions_stay_jpeg_with_the_same_headers(admin_client, collection):
    asset = _asset(collection, "PNG", "report.html")

    response = admin_client.get(reverse("archive:asset-rendition", args=[asset.pk, "thumb"]))

    assert response["Content-Type"] == "image/jpeg"
    _assert_safe_headers(response)


@pytest.fixture
def stored(collection):
    return ingest_bytes(image_bytes(make_image("teal")), collection=collection).asset


@pytest.mark.parametrize("view", ["file", "rendition"])
def test_staff_without_view_asset_are_refused(client, stored, view):
    client.force_login(person("clerk", "archive.view_collection"))
    url = (
        reverse("archive:asset-file", args=[stored.pk])
        if view == "file"
        else reverse("archive:asset-rendition", args=[stored.pk, "thumb"])
    )

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["Archivist", "Licensing", "Compliance", "Operator"])
def test_every_role_with_view_asset_gets_the_file(client, stored, role):
    client.force_login(role_member(role))

    assert _file(client, stored).status_code == 200


def test_anonymous_is_sent_to_sign_in(client, stored):
    response = _file(client, stored)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


MEDIA_PROBES = [
    "/media/",
    "/media/hot/",
    "/media/.env",
    "/media/.git/config",
    "/media/hot/.hidden",
    "/media/../var/secret_key",
    "/media/%2e%2e/var/secret_key",
    "/var/secret_key",
    "/var/",
    "/assets/",
    "/assets/.htaccess",
    "/static/../config/settings.py",
]


@pytest.mark.parametrize("path", MEDIA_PROBES)
def test_probes_of_media_and_var_find_nothing(admin_client, client, stored, path):
    assert admin_client.get(path).status_code == 404
    assert client.get(path).status_code == 404
