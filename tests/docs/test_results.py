"""The results tables (`docs/results/*.csv`): each is rendered on a page,
says the commit and machine of every row, and the README quick start is
what CI runs."""

import csv
import glob
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
RESULTS = sorted(glob.glob(os.path.join(DOCS, "results", "*.csv")))
# The MkDocs hook that renders the markers (docs/ is not a package).
_spec = importlib.util.spec_from_file_location("kzoo_docs_hooks",
                                               os.path.join(DOCS, "hooks.py"))
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)


def _markers():
    found = {}
    for page in glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True):
        with open(page, encoding="utf-8") as f:
            for name in hooks.RESULTS.findall(f.read()):
                found.setdefault(name, []).append(os.path.relpath(page, DOCS))
    return found


def test_every_results_file_is_rendered_and_every_marker_has_a_file():
    names = {os.path.splitext(os.path.basename(p))[0] for p in RESULTS}
    markers = _markers()
    assert names, "no results files"
    assert set(markers) == names


@pytest.mark.parametrize("path", RESULTS, ids=os.path.basename)
def test_every_row_is_complete_and_says_its_commit_and_machine(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert body, "a results file without rows"
    assert {"commit", "machine"} <= set(header)
    assert all(len(row) == len(header) for row in body)
    for row in body:
        record = dict(zip(header, row))
        assert re.fullmatch(r"[0-9a-f]{7,40}", record["commit"]), record
        assert record["machine"].strip(), record


def test_the_readme_quick_start_is_what_ci_runs():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = f.read().splitlines()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.DOTALL)[1]
    commands = block.strip().splitlines()
    assert len(commands) == 2
    for command in commands:
        assert command in ci
