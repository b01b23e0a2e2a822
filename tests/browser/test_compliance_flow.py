"""End to end in headless Chromium: a hold blocks review, and the audit export verifies."""

import io
import shutil
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from selenium.webdriver.common.by import By

from archive.models import Asset, LegalHold
from dedup.models import DuplicateCandidate
from tests.archive.helpers import ingest_bytes
from tests.browser.conftest import ARTIFACTS, downloaded, screenshot, wait_for_text
from tests.browser.test_review_flow import log_in
from tests.conftest import image_bytes, make_scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def member(username: str, group: str):
    user = get_user_model().objects.create_user(username, password="correct horse", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_hold_blocks_the_pair_and_the_filtered_export_verifies(browser, live_server, collection):
    call_command("setup_roles", verbosity=0)
    member("olu", "Compliance")
    member("ada", "Archivist")
    scene = make_scene(401)
    ingest_bytes(image_bytes(scene, quality=95), collection=collection, path="a.jpg")
    small = ingest_bytes(
        image_bytes(scene.resize((160, 120)), quality=70), collection=collection, path="a-small.jpg"
    ).asset
    candidate = DuplicateCandidate.objects.get()

    # The compliance officer places a hold on the small copy.
    log_in(browser, live_server, "olu", "correct horse")
    browser.get(f"{live_server.url}/admin/archive/legalhold/add/?assets={small.pk}")
    browser.find_element(By.NAME, "matter_reference").send_keys("CASE-7")
    browser.find_element(By.NAME, "reason").send_keys("Permit dispute, preserve everything")
    screenshot(browser, "hold-place")
    browser.find_element(By.NAME, "place").click()
    wait_for_text(browser, "Legal hold CASE-7 placed")
    assert LegalHold.objects.get().matter_reference == "CASE-7"

    # The archivist sees the pair flagged as held and the confirmation refused.
    browser.delete_all_cookies()
    log_in(browser, live_server, "ada", "correct horse")
    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/?involves=held")
    assert "held" in browser.find_element(By.ID, "result_list").text
    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/{candidate.pk}/compare/")
    assert "Legal hold CASE-7" in browser.page_source
    browser.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
    # find_element waits (implicitly) for the answer page and its error message.
    refusal = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.error").text
    assert "under legal hold (CASE-7)" in refusal
    screenshot(browser, "hold-refused")
    small.refresh_from_db()
    assert (small.state, small.replaced_by_id) == (Asset.State.ACTIVE, None)

    # The officer downloads the hold events: one zip with the manifest and proofs inside.
    browser.delete_all_cookies()
    log_in(browser, live_server, "olu", "correct horse")
    browser.get(f"{live_server.url}/admin/archive/auditevent/export/")
    browser.find_element(By.NAME, "verb").send_keys("legalhold.*")
    screenshot(browser, "audit-export")
    browser.find_element(By.NAME, "download").click()
    export = downloaded(browser, ".zip")
    with zipfile.ZipFile(export) as bundle:
        events = bundle.read("events.csv").decode("utf-8")
        assert "manifest.json" in bundle.namelist()
    assert "CASE-7" in events and "legalhold.refused" in events
    shutil.copy(export, ARTIFACTS / export.name)
    out = io.StringIO()
    call_command("verify_audit", file=str(export), stdout=out)
    assert "verifies: 2 events listed" in out.getvalue()
    browser.get(f"{live_server.url}/admin/archive/auditevent/")
    screenshot(browser, "audit-events")
    first = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")[0].text
    assert "audit.exported" in first  # newest first
