"""Headless Chromium (Debian's chromium and chromium-driver) for end-to-end tests."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("KEEPSAKE_TEST_ARTIFACTS", "var/test-artifacts"))


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get("KEEPSAKE_REQUIRE_BROWSER"):
            pytest.fail(
                "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
            )
        pytest.skip("chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="keepsake-chromium-")
    downloads = Path(profile) / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
        },
    )
    # The machine has no network beyond loopback: keep Chromium from reaching out.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    driver.downloads = downloads
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def downloaded(driver, suffix: str, timeout: float = 15) -> Path:
    """Wait for a finished download whose name ends with suffix."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in driver.downloads.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} download in {list(driver.downloads.iterdir())}")


def wait_for_text(driver, text: str, timeout: float = 10) -> None:
    """Wait until the page shows text: a click's answer page may not have loaded yet."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: text in d.page_source)
