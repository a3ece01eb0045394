"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the production server.

Every test fails on any page or asset response >= 400 and on any browser console error or
uncaught page error (`page` below checks at teardown); each page visited is saved as a
screenshot under browser-screenshots/ (git-ignored) for a reviewer to look at.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from clarity.tests.reliability.harness import ROOT

CHROMIUM = os.environ.get("CLARITY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "browser-screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# Module scope, not session: Playwright's sync API keeps an event loop marked running in the
# main thread while it is open, and every later test that calls async_to_sync (the ASGI
# tests) would then fail with "cannot use AsyncToSync in the same thread as an event loop".
@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test-browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def site(live_clarity):
    """The server's URL as `localhost`: a secure context, so the production (Secure) cookies are kept over HTTP."""
    live_clarity.browser_url = live_clarity.url.replace("127.0.0.1", "localhost")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir()
    return live_clarity


class Watched:
    """A page plus what went wrong on it: responses >= 400, console errors, page errors."""

    def __init__(self, page, base_url, name):
        self.page, self.base_url, self.name = page, base_url, name
        self.problems = []
        self.shots = 0
        page.on("response", self._response)
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console error: {msg.text}"))
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _response(self, response):
        if response.status >= 400 and response.url.startswith(self.base_url):
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def goto(self, path):
        response = self.page.goto(self.base_url + path, wait_until="load")
        self.page.wait_for_load_state("load")
        return response

    def navigate(self, action):
        """Run `action` (a click, an Enter) and wait until the page it leads to has loaded."""
        with self.page.expect_navigation(wait_until="load"):
            action()

    def shot(self, label):
        self.shots += 1
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}-{self.shots:02d}-{label}.png"), full_page=True)


@pytest.fixture
def browse(chromium, site, request):
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)  # 2 shared cores: pages can be slow, never wrong
    watched = Watched(page, site.browser_url, re.sub(r"\W+", "-", request.node.name.removeprefix("test_")))
    yield watched
    context.close()
    assert not watched.problems, "\n".join(watched.problems)


def sign_in(browse, site, username="demo-admin"):
    browse.goto("/admin/login/?next=/admin/")
    browse.page.fill("#id_username", username)
    browse.page.fill("#id_password", site.passwords[username])
    browse.navigate(lambda: browse.page.click("input[type=submit]"))
