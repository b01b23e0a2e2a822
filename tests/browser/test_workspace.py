"""End to end in headless Chromium on the demo: the admin home leads with the work, the
legal hold pages list collections and frozen assets, dispositions show their blockers
when requested and approved. Screenshots go to $KEEPSAKE_TEST_ARTIFACTS (docs/screens.md)."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from archive.models import Asset, Collection, LegalHold
from archive.selectors import legal_hold_assets
from dedup.models import DuplicateCandidate
from dedup.review import candidate_decide
from retention.models import DispositionRequest
from tests.browser.conftest import screenshot, wait_for_text
from tests.browser.test_review_flow import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
PASSWORD = "correct horse battery"


@pytest.fixture
def demo(tmp_path):
    # Seeded by migration; an earlier transactional test may have flushed them.
    call_command("seed_retention_policies", verbosity=0)
    call_command(
        "demo_setup",
        images=str(tmp_path / "demo-images"),
        tokens=str(tmp_path / "demo-tokens.sh"),
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )
    people = get_user_model().objects.filter(username__in=["admin", "curator", "officer"])
    for user in people:
        user.set_password(PASSWORD)
        user.save()
    return {user.username: user for user in people}


def as_user(browser, live_server, username, width=1280):
    browser.delete_all_cookies()
    browser.set_window_size(width, 1000)
    log_in(browser, live_server, username, PASSWORD)


def test_the_admin_home_leads_with_the_work(browser, live_server, demo):
    as_user(browser, live_server, "admin")
    browser.get(f"{live_server.url}/admin/")

    work = browser.find_element(By.ID, "keepsake-work")
    pairs = browser.find_element(By.ID, "work-pairs")
    open_pairs = DuplicateCandidate.objects.filter(status__in=["pending", "deferred"]).count()
    assert pairs.find_element(By.CLASS_NAME, "figure").text == str(open_pairs)
    assert "similar" in pairs.text and "pixel" in pairs.text
    approvals = browser.find_element(By.ID, "work-approvals")
    assert approvals.find_element(By.CLASS_NAME, "figure").text == "1"
    assert browser.find_element(By.ID, "work-fixity").find_element(By.CLASS_NAME, "figure").text
    assert "Storage dashboard" in work.text
    # Work first, plumbing below it on the page.
    plumbing = browser.find_element(By.ID, "keepsake-plumbing")
    assert plumbing.location["y"] > work.location["y"]
    assert "Django Q" in plumbing.text or "DJANGO Q" in plumbing.text.upper()
    screenshot(browser, "admin-home")
    browser.find_element(By.LINK_TEXT, "Storage dashboard").click()
    wait_for_text(browser, "Storage dashboard")
    screenshot(browser, "dashboard")


def test_holds_list_collections_and_every_frozen_asset(browser, live_server, demo):
    as_user(browser, live_server, "officer")
    browser.get(f"{live_server.url}/admin/archive/legalhold/add/")
    available = Select(browser.find_element(By.ID, "id_collections_from"))
    listed = sorted(option.text for option in available.options)
    assert listed == sorted(Collection.objects.values_list("name", flat=True))
    browser.find_element(By.NAME, "matter_reference").send_keys("FOI-2026-031")
    browser.find_element(By.NAME, "reason").send_keys("Records request: preserve the camera card")
    available.select_by_visible_text("Camera card 42")
    browser.find_element(By.ID, "id_collections_add").click()
    screenshot(browser, "hold-place")
    browser.find_element(By.NAME, "place").click()
    wait_for_text(browser, "Legal hold FOI-2026-031 placed")

    hold = LegalHold.objects.get(matter_reference="FOI-2026-031")
    frozen = set(legal_hold_assets(hold=hold).values_list("pk", flat=True))
    section = browser.find_element(By.ID, "frozen-assets")
    tiles = section.find_elements(By.CSS_SELECTOR, "li.keepsake-tile img")
    assert len(frozen) == 6 and len(tiles) == 6
    assert all(img.get_property("naturalWidth") > 0 for img in tiles)  # thumbnails load
    assert {int(img.get_attribute("src").split("/")[-2]) for img in tiles} == frozen
    browser.execute_script("arguments[0].scrollIntoView()", section)
    screenshot(browser, "hold")


def test_dispositions_show_blockers_when_requested_and_approved(browser, live_server, demo):
    rotated = Asset.objects.get(original_filename="camera-rotated.jpg")
    pair = DuplicateCandidate.objects.get(asset_b=rotated)
    candidate_decide(
        candidate=pair,
        decision="confirm",
        canonical=pair.asset_a,
        reason="rotated copy",
        actor=demo["curator"],
    )
    as_user(browser, live_server, "curator")
    browser.get(f"{live_server.url}/admin/retention/quarantinerecord/?status=open")
    row = browser.find_element(By.XPATH, "//tr[contains(., 'camera-rotated')]")
    row.find_element(By.NAME, "_selected_action").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("request_disposition")
    browser.find_element(By.NAME, "index").click()
    wait_for_text(browser, "Request the disposition")
    blockers = browser.find_element(By.ID, "purge-blockers")
    assert "Restore window open until" in blockers.text
    assert "No approved disposition request" in blockers.text
    assert "Nothing but the approval and the restore windows" in browser.page_source
    browser.find_element(By.NAME, "reason").send_keys("Rotated copy; the original is kept")
    screenshot(browser, "disposition-request")
    browser.find_element(By.NAME, "confirm").click()
    wait_for_text(browser, "a second person must approve it")
    filed = DispositionRequest.objects.get(items__asset=rotated)
    assert filed.reason == "Rotated copy; the original is kept"

    as_user(browser, live_server, "officer")
    browser.get(f"{live_server.url}/admin/retention/dispositionrequest/{filed.pk}/change/")
    assert "Restore window open until" in browser.find_element(By.ID, "disposition-blockers").text
    browser.find_element(By.CLASS_NAME, "keepsake-approve").click()
    wait_for_text(browser, f"Approve disposition request {filed.pk}")
    assert "Restore window open until" in browser.find_element(By.ID, "purge-blockers").text
    screenshot(browser, "disposition-approve")
    browser.find_element(By.NAME, "confirm").click()
    wait_for_text(browser, f"Request {filed.pk}: approved")
    filed.refresh_from_db()
    assert filed.approved_by == demo["officer"]
