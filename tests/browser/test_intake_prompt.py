"""End to end in headless Chromium: an upload that looks like something held is shown
beside it (Wagtail-style prompt) and the uploader chooses; nothing is stored before."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from selenium.webdriver.common.by import By

from archive.models import Asset, IntakeItem
from tests.archive.helpers import ingest_bytes
from tests.browser.conftest import screenshot, wait_for_text
from tests.browser.test_review_flow import log_in
from tests.conftest import image_bytes, make_scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_upload_prompt_shows_both_and_the_choice_is_carried_out(
    browser, live_server, collection, tmp_path
):
    call_command("setup_roles", verbosity=0)
    user = get_user_model().objects.create_user("uma", password="correct horse", is_staff=True)
    user.groups.add(Group.objects.get(name="Operator"))
    scene = make_scene(511)
    original = ingest_bytes(image_bytes(scene, quality=92), collection=collection, path="a.jpg")
    copy = tmp_path / "a-small.jpg"
    copy.write_bytes(image_bytes(scene.resize((160, 120)), quality=60))

    log_in(browser, live_server, "uma", "correct horse")
    browser.get(f"{live_server.url}/admin/archive/intakeitem/upload/")
    browser.find_element(By.NAME, "collection").send_keys(collection.name)
    browser.find_element(By.NAME, "file").send_keys(str(copy))
    browser.find_element(By.NAME, "title").send_keys("Harbour, small")
    browser.find_element(By.NAME, "upload").click()

    wait_for_text(browser, "looks like an image the archive already holds")
    assert Asset.objects.count() == 1  # nothing stored before the choice
    sides = browser.find_elements(By.CSS_SELECTOR, ".keepsake-side img")
    assert len(sides) == 2
    # Both pictures really render (a broken image has no natural width).
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in sides)
    match = browser.find_element(By.CSS_SELECTOR, ".keepsake-match")
    assert match.get_attribute("data-asset") == str(original.asset.pk)
    assert "Derivative" in match.text and "KB" in match.text
    screenshot(browser, "upload-prompt")

    browser.find_element(By.NAME, "reason").send_keys("the same harbour photograph")
    browser.find_element(By.NAME, "add_record").click()

    wait_for_text(browser, "Added as another record")
    item = IntakeItem.objects.get()
    assert (item.status, item.asset_id) == ("record_added", original.asset.pk)
    assert Asset.objects.count() == 1
    assert original.asset.entries.filter(title="Harbour, small").exists()
