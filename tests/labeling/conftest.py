"""The labelling tests' fixtures: a served data folder, and headless
Chromium through Playwright for the page.

Playwright's own browser download is never used: the browser is Debian's
`chromium` package (or `KZOO_CHROMIUM`), given as `executable_path`. Where
either is missing the test is skipped with the reason and what to install;
with `KZOO_REQUIRE_BROWSER=1` (`.ci/run`) it fails instead.
"""

import os
import shutil

import pytest

from tests.labeling.helpers import Served, data_folder

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path():
    """The browser to drive, or None."""
    given = os.environ.get("KZOO_CHROMIUM")
    if given:
        return given
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def _missing(reason):
    if os.environ.get("KZOO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"KZOO_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser_page():
    """A Playwright page in headless Chromium (skips with the reason where
    Playwright or a browser is missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[test]'")
    executable = chromium_path()
    if executable is None:
        _missing("no Chromium found: apt-get install chromium (Debian), or "
                 "set KZOO_CHROMIUM to a Chromium or Chrome binary")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 800})
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def served(tmp_path):
    """A `Served` data folder of 2 classes and 4 queued images (`.root`)."""
    root, queue = data_folder(tmp_path / "d")
    server = Served(root, queue)
    server.root = root
    yield server
    server.close()
