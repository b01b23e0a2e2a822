"""The review screens in headless Chromium: nothing clipped at 1280 and 1920 px, the
look-alike override, the compare summary and warnings, the group grid."""

import pytest
from selenium.webdriver.common.by import By

from dedup.models import DuplicateCandidate
from tests.archive.helpers import ingest_bytes
from tests.browser.conftest import screenshot, wait_for_text
from tests.browser.test_review_flow import archivist, log_in  # noqa: F401 (fixture)
from tests.conftest import image_bytes, make_scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

# Every cell, header and button of the queue, and whether its box leaves the viewport or
# is cut off by a scrolling container around the table.
CLIPPED = """
const width = window.innerWidth;
const out = [];
const shown = '#result_list th, #result_list td, #changelist a.button, #changelist button';
for (const el of document.querySelectorAll(shown + ', .actions select')) {
  const box = el.getBoundingClientRect();
  if (box.width === 0) continue;
  let clipped = box.left < 0 || box.right > width + 0.5;
  for (let p = el.parentElement; p && !clipped; p = p.parentElement) {
    const style = getComputedStyle(p);
    if (style.overflowX !== 'visible') {
      const outer = p.getBoundingClientRect();
      clipped = box.right > outer.right + 0.5 || box.left < outer.left - 0.5;
    }
  }
  if (clipped) out.push(el.tagName + '.' + el.className + ': ' + el.textContent.slice(0, 30));
}
return [out, document.documentElement.scrollWidth, width];
"""


@pytest.fixture
def pairs(collection):
    made = []
    for seed in (401, 402, 403):
        scene = make_scene(seed)
        big = ingest_bytes(
            image_bytes(scene, quality=92), collection=collection, path=f"survey/{seed}.jpg"
        )
        small = ingest_bytes(
            image_bytes(scene.resize((160, 120)), quality=55),
            collection=collection,
            path=f"web/{seed}-small-with-a-long-file-name.jpg",
        )
        made.append((big.asset, small.asset))
    return made


@pytest.mark.parametrize("width", [1280, 1920])
def test_nothing_in_the_queue_is_clipped(browser, live_server, archivist, pairs, width):  # noqa: F811
    browser.set_window_size(width, 1000)
    log_in(browser, live_server, "ada", "correct horse")
    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/")
    wait_for_text(browser, "Open (pending or deferred)")
    inner = browser.execute_script("return window.innerWidth")
    if inner != width:  # the window chrome takes some: make the viewport itself that wide
        browser.set_window_size(2 * width - inner, 1000)

    clipped, scroll_width, viewport = browser.execute_script(CLIPPED)

    screenshot(browser, f"review-queue-{width}")
    assert viewport == width
    assert clipped == []
    assert scroll_width <= viewport
    assert "Side a" in browser.page_source and "Field photos" in browser.page_source


def test_compare_leads_with_a_summary_and_a_look_alike_needs_an_override(
    browser,
    live_server,
    archivist,  # noqa: F811
    pairs,
):
    big, small = pairs[0]
    candidate = DuplicateCandidate.objects.get(asset_a=big, asset_b=small)
    log_in(browser, live_server, "ada", "correct horse")
    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/{candidate.pk}/compare/")
    summary = browser.find_element(By.ID, "keepsake-summary").text
    assert summary.startswith("b is the same photograph") and "% of the pixels" in summary
    assert not browser.find_element(By.ID, "keepsake-evidence").get_attribute("open")
    screenshot(browser, "compare")

    DuplicateCandidate.objects.filter(pk=candidate.pk).update(kind="similar")
    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/{candidate.pk}/compare/")
    browser.find_element(By.TAG_NAME, "body").send_keys("c")  # no confirm by key-press
    override = browser.find_element(By.ID, "keepsake-override")
    assert override.get_attribute("open")  # the key opens the override form instead
    screenshot(browser, "compare-similar")
    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.PENDING

    override.find_element(By.CSS_SELECTOR, f"input[value='{big.pk}']").click()
    override.find_element(By.NAME, "reason").send_keys("one print scanned twice, same negative")
    override.find_element(By.CSS_SELECTOR, "button[value=confirm]").click()
    wait_for_text(browser, f"Pair {big.pk} ~ {small.pk}: confirm")
    candidate.refresh_from_db()
    assert candidate.status == DuplicateCandidate.Status.CONFIRMED


def test_a_group_is_decided_with_a_copy_kept_separately(
    browser,
    live_server,
    archivist,  # noqa: F811
    collection,
):
    scene = make_scene(411)
    copies = [
        ingest_bytes(
            image_bytes(scene.resize(size), quality=q), collection=collection, path=p
        ).asset
        for size, q, p in [
            ((320, 240), 95, "g.jpg"),
            ((240, 180), 80, "g1.jpg"),
            ((160, 120), 60, "g2.jpg"),
        ]
    ]
    keep, trash, apart = copies
    log_in(browser, live_server, "ada", "correct horse")
    browser.get(f"{live_server.url}/admin/dedup/duplicatecandidate/groups/")
    browser.find_element(By.CSS_SELECTOR, f"input[name=separate][value='{apart.pk}']").click()
    screenshot(browser, "group")
    browser.find_element(By.CSS_SELECTOR, ".keepsake-group button[type=submit]").click()
    wait_for_text(browser, "Group decided")

    trash.refresh_from_db()
    apart.refresh_from_db()
    assert trash.replaced_by_id == keep.pk and apart.replaced_by_id is None
    assert DuplicateCandidate.objects.filter(status="rejected").count() == 2
