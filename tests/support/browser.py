"""Headless Chromium for the browser tests (Debian's ``chromium`` and ``chromium-driver``, which
scripts/test.sh installs), driven by selenium: a logged-in browser on a live stack, what a page
shows, screenshots with this machine's paths hidden."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.live_stack import Stack, wait_until

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
# Flags that work in a container as root, with no network beyond 127.0.0.1.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


def skip_without_chromium() -> None:
    """Skip the calling test module without chromium, except in CI (``CI`` set), where the test
    script must have installed it."""
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            raise RuntimeError("CI: chromium and chromium-driver must be installed (scripts/test.sh does)")
        pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)


def screenshot_folder(tmp_path_factory) -> Path:
    """``$UI_SCREENSHOTS`` when set (``UI_SCREENSHOTS=docs/img/ui`` refreshes the docs'), else a
    temporary folder."""
    folder = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def chromium(stack: Stack, user: str = "admin") -> Iterator[object]:
    """Chromium with a new empty profile, logged in as ``user`` through the login form."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="ui-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        log_in(driver, stack, user)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def password(stack: Stack, user: str = "admin") -> str:
    """The password the simple auth manager generated for ``user``."""
    return json.loads((stack.home / "simple_auth_manager_passwords.json.generated").read_text())[user]


def log_in(driver, stack: Stack, user: str = "admin") -> None:
    """As a person does: open the UI, get sent to the login form, fill it in."""
    from selenium.webdriver.common.by import By

    driver.get(stack.url)
    wait_until(lambda: "/auth/login" in driver.current_url, 30, "the login page")
    find(driver, By.NAME, "username").send_keys(user)
    find(driver, By.NAME, "password").send_keys(password(stack, user))
    find(driver, By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: "/auth/login" not in driver.current_url, 30, "the login to go through")


def snap(driver, path: Path) -> None:
    """A screenshot, this machine's paths shown as placeholders (the docs show these pictures)."""
    places = {str(ROOT): "<project>", tempfile.gettempdir(): "<tmp>"}
    driver.execute_script(
        """const places = Object.entries(arguments[0]);
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const [path, shown] of places) node.nodeValue = node.nodeValue.replaceAll(path, shown);
        }""",
        places,
    )
    driver.save_screenshot(str(path))


def find(within, by: str, value: str, timeout: float = 30):
    """The first element matching, once the page has rendered it."""
    return wait_until(lambda: within.find_elements(by, value), timeout, f"{value!r} on the page")[0]


def text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def shown(driver, url: str, what, timeout: float, description: str):
    """Load ``url`` (again, as a person presses reload) until ``what(driver)`` is true."""

    def check():
        driver.get(url)
        return wait_until(lambda: what(driver), 5, description, every=0.5)

    return wait_until(lambda: _quietly(check), timeout, description, every=1)


def _quietly(check):
    from selenium.common.exceptions import WebDriverException

    try:
        return check()
    except (AssertionError, WebDriverException):  # not there yet, or re-rendered while read
        return None
