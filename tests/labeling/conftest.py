"""The labelling tests' fixtures: a served data folder, and headless
Chromium through Playwright for the page (`tests/browser.py`: skipped with
the reason where it is missing, failed under `KZOO_REQUIRE_BROWSER=1`).
"""

import pytest

from tests import browser
from tests.labeling.helpers import Served, data_folder


@pytest.fixture
def browser_page():
    """A Playwright page in headless Chromium."""
    with browser.browser_page() as page:
        yield page


@pytest.fixture
def served(tmp_path):
    """A `Served` data folder of 2 classes and 4 queued images (`.root`)."""
    root, queue = data_folder(tmp_path / "d")
    server = Served(root, queue)
    server.root = root
    yield server
    server.close()
