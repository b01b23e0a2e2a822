"""End to end in headless Chromium: an uploaded page never runs as a page.

Each file is a valid image with an HTML/SVG payload after its last chunk, stored under
a name that claims a page (report.html, payload.svg, page.xhtml). Opening it in a
curator's session must show an image or download a file; the payload's script must not
run on the admin's origin (it would set the title and a global, and raise an alert).
"""

import pytest
from django.urls import reverse
from selenium.common.exceptions import NoAlertPresentException

from tests.archive.helpers import ingest_bytes
from tests.browser.conftest import screenshot
from tests.browser.test_review_flow import archivist, log_in  # noqa: F401 - fixture
from tests.conftest import image_bytes, make_scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PAYLOAD = (
    b"<html><body><svg xmlns='http://www.w3.org/2000/svg' onload=\"window.__pwned=1\"/>"
    b"<script>document.title='PWNED';window.__pwned=1;alert('xss')</script></body></html>"
)


def _no_alert(browser) -> bool:
    try:
        browser.switch_to.alert.dismiss()
    except NoAlertPresentException:
        return True
    return False


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "report.html"), ("GIF", "payload.svg"), ("TIFF", "page.xhtml"), ("PNG", "x.htm")],
)
def test_an_uploaded_page_never_executes(browser, live_server, archivist, collection, fmt, name):  # noqa: F811
    data = image_bytes(make_scene(sum(name.encode()) % 997), fmt) + PAYLOAD
    asset = ingest_bytes(data, collection=collection, path=name).asset
    assert asset is not None, "the polyglot is a valid image and is stored"
    log_in(browser, live_server, "ada", "correct horse")

    browser.get(live_server.url + reverse("archive:asset-file", args=[asset.pk]))

    assert _no_alert(browser)
    assert browser.title != "PWNED"
    assert browser.execute_script("return window.__pwned === undefined")
    screenshot(browser, f"hostile-upload-{fmt.lower()}-{name.replace('.', '-')}")
