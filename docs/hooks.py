"""MkDocs hooks (`hooks:` in mkdocs.yml): pages whose content is generated
at build time, so that it cannot drift from what it documents.

- `<!-- kzoo:commands -->` becomes the command reference, generated from
  the command definitions through the parser `kzoo <command> --help`
  prints (`kzoo.run.reference`).
- `<!-- kzoo:results NAME -->` becomes the table of `docs/results/NAME.csv`
  (the results page's tables are the CSV files, rendered).
"""

import csv
import os
import re

from kzoo.run.reference import escape, reference_markdown, table

# A marker is a line of its own (so a page can write one in code, as text).
COMMANDS = re.compile(r"^<!-- kzoo:commands -->$", re.MULTILINE)
RESULTS = re.compile(r"^<!-- kzoo:results ([\w-]+) -->$", re.MULTILINE)


def csv_table(path):
    """A Markdown table of a CSV file: its header row, then every row."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    cells = [[escape(c) for c in row] for row in rows]
    return table(cells[0], cells[1:])


def on_page_markdown(markdown, page, config, files):
    markdown = COMMANDS.sub(lambda _: reference_markdown(), markdown)

    def results_table(match):
        path = os.path.join(config["docs_dir"], "results", match[1] + ".csv")
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{page.file.src_uri}: no results file {path} for {match[0]}")
        return csv_table(path)

    return RESULTS.sub(results_table, markdown)
