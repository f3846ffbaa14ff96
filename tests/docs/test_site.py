"""The documentation site: `mkdocs build --strict` succeeds, and the built
site, served on 127.0.0.1, shows its home page and the generated command
reference in headless Chromium.

Needs the `docs` extra (`pip install -e ".[docs]"`) and a browser (see
`tests/browser.py`); without either the test skips and says which, and
under `KZOO_REQUIRE_DOCS=1` / `KZOO_REQUIRE_BROWSER=1` (`.ci/run`) it
fails instead. `KZOO_SCREENSHOTS=DIR` keeps the screenshots.
"""

import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from kzoo.run.commands import COMMANDS
from tests import browser

pytestmark = pytest.mark.large

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The strictly built site, served on 127.0.0.1: its base URL."""
    if importlib.util.find_spec("mkdocs") is None:
        browser.missing("mkdocs is not installed: pip install -e '.[docs]'",
                        required_by="KZOO_REQUIRE_DOCS")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "-f", os.path.join(ROOT, "mkdocs.yml"), "-d", str(out)],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(out))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page():
    with browser.browser_page(width=1280, height=900) as page:
        page.errors = []
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        page.on("requestfailed", lambda req: page.errors.append(
            f"{req.url}: {req.failure}"))

        def offline(route):  # nothing downloads: only 127.0.0.1 is served
            page.errors.append(f"left this machine: {route.request.url}")
            route.abort()

        page.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), offline)
        yield page


def _screenshot(page, tmp_path, name):
    """A full-page screenshot: it must show something (not one flat
    colour). Kept under `KZOO_SCREENSHOTS` when set."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert pixels.std() > 10, f"{name}: a blank screenshot"
    keep = os.environ.get("KZOO_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, path.name))
    return pixels


def test_home_page_shows_its_heading_navigation_and_quick_start(site, page, tmp_path):
    page.goto(site)
    assert page.locator("article h1").first.inner_text().strip().startswith("kzoo")
    assert page.title().startswith("kzoo")
    assert page.locator("article code", has_text="kzoo fixmatch --flexmatch").count()
    nav = page.locator("nav.md-nav--primary").inner_text()
    for title in ("Getting started", "Techniques", "Commands", "Results"):
        assert title in nav
    _screenshot(page, tmp_path, "home")
    page.locator("nav.md-nav--primary a", has_text="Commands").first.click()
    page.wait_for_url("**/reference/commands/")
    assert page.locator("article h1").inner_text().strip().startswith("Command reference")
    assert page.errors == []


def test_command_reference_shows_every_command_and_its_options(site, page, tmp_path):
    page.goto(site + "reference/commands/#kzoo-fixmatch")
    headings = [h.strip().rstrip("¶").strip()
                for h in page.locator("article h2").all_inner_texts()]
    assert headings == [f"kzoo {name}" for name in COMMANDS]
    section = page.locator("#kzoo-fixmatch")
    assert section.is_visible()
    # The row of --variant (an option of kzoo fixmatch alone).
    row = page.locator("article tr", has=page.locator(
        "td:first-child code", has_text="--variant"))
    assert row.count() == 1
    option = COMMANDS["fixmatch"].option("variant")
    assert " ".join(row.locator("td").nth(2).inner_text().split()) == " ".join(
        option.help_text().split())
    _screenshot(page, tmp_path, "commands")
    assert page.errors == []


def test_results_page_renders_its_tables(site, page):
    page.goto(site + "results/")
    assert page.locator("article table").count() >= 10
    assert page.locator("article td", has_text="384c62c").count() >= 8
    assert page.errors == []
