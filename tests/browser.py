"""Headless Chromium through Playwright, for the tests of kzoo's pages (the
labelling page, the documentation site).

Playwright's own browser download is never used: the browser is Debian's
`chromium` package (or `KZOO_CHROMIUM`), given as `executable_path`. Where
either is missing the test is skipped with the reason and what to install;
with `KZOO_REQUIRE_BROWSER=1` (`.ci/run`) it fails instead.
"""

import contextlib
import os
import shutil

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path():
    """The browser to drive, or None."""
    given = os.environ.get("KZOO_CHROMIUM")
    if given:
        return given
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def missing(reason, required_by="KZOO_REQUIRE_BROWSER"):
    """Skip with `reason`, or fail where the environment variable
    `required_by` is 1 (CI: the test must run)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def browser_page(width=1100, height=800):
    """A Playwright page in headless Chromium (skips with the reason where
    Playwright or a browser is missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    executable = chromium_path()
    if executable is None:
        missing("no Chromium found: apt-get install chromium (Debian), or "
                "set KZOO_CHROMIUM to a Chromium or Chrome binary")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            yield context.new_page()
        finally:
            browser.close()
