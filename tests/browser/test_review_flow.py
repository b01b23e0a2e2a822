"""End to end in headless Chromium: an archivist works the review queue."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from archive.models import Asset
from dedup.models import DuplicateCandidate
from tests.archive.helpers import ingest_bytes
from tests.browser.conftest import screenshot, wait_for_text
from tests.conftest import image_bytes, make_scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def log_in(browser, live_server, username, password):
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password + Keys.RETURN)
    wait_for_text(browser, "Log out")


@pytest.fixture
def archivist(db):
    call_command("setup_roles", verbosity=0)
    user = get_user_model().objects.create_user("ada", password="correct horse", is_staff=True)
    user.groups.add(Group.objects.get(name="Archivist"))
    return user


@pytest.fixture
def queue(collection):
    """A derivative pair (original and a halved copy) and an unrelated look-alike pair."""
    scene = make_scene(301)
    big = ingest_bytes(image_bytes(scene, quality=95), collection=collection, path="a.jpg")
    small = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=70), collection=collection, path="a-small.jpg"
    )
    return big.asset, small.asset


def test_archivist_confirms_a_pair_and_the_old_link_redirects(
    browser, live_server, archivist, queue
):
    big, small = queue
    candidate = DuplicateCandidate.objects.get(asset_a=big, asset_b=small)
    log_in(browser, live_server, "ada", "correct horse")

    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/")
    assert "Review queue" in browser.page_source
    screenshot(browser, "review-queue")
    browser.find_element(By.LINK_TEXT, "Start reviewing →").click()
    wait_for_text(browser, f"Compare pair {big.pk} ~ {small.pk}")
    browser.find_element(By.CSS_SELECTOR, "[data-mode=difference]").click()
    screenshot(browser, "compare-difference")
    browser.find_element(By.TAG_NAME, "body").send_keys("c")  # the confirm shortcut

    browser.find_element(By.CSS_SELECTOR, ".messagelist")
    candidate.refresh_from_db()
    small.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.CONFIRMED
    assert (small.replaced_by_id, small.state) == (big.pk, Asset.State.QUARANTINED)

    browser.get(f"{live_server.url}/admin/retention/quarantinerecord/")
    assert "a-small.jpg" in browser.page_source
    screenshot(browser, "quarantine")
    browser.get(f"{live_server.url}/assets/{small.pk}/file/")
    assert browser.current_url.endswith(f"/assets/{big.pk}/file/")


def test_a_look_alike_pair_cannot_be_bulk_confirmed(browser, live_server, archivist, queue):
    candidate = DuplicateCandidate.objects.get()
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(kind="similar")
    log_in(browser, live_server, "ada", "correct horse")

    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/")
    browser.find_element(
        By.CSS_SELECTOR, f"input[name=_selected_action][value='{candidate.pk}']"
    ).click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("bulk_confirm")
    browser.find_element(By.NAME, "index").click()

    wait_for_text(browser, "decided one at a time")
    screenshot(browser, "bulk-confirm-refused")
    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.PENDING
