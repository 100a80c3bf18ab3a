"""Real Chromium (Debian's) driven by Playwright against pytest-django's live server."""

import os
import shutil
import tempfile

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium.")
    profile = tempfile.mkdtemp(prefix="faiross-chromium-")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    # Browser-side errors are printed, so a failing test shows what the page said.
    page.on("pageerror", lambda error: print(f"page error: {error}"))
    page.on("console", lambda msg: msg.type == "error" and print(f"console: {msg.text}"))
    yield page
    context.close()
