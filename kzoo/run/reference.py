"""The command reference as Markdown, generated from the command
definitions (`kzoo.run.commands.COMMANDS`) through the same `argparse`
parser that `kzoo <command> --help` prints: the documentation site's
command reference (`docs/reference/commands.md`, filled in at build time by
`docs/hooks.py`) cannot differ from `--help`.

    python -m kzoo.run.reference > commands.md

TensorFlow-free, like the command definitions.
"""

import argparse

from kzoo.run.commands import COMMANDS
from kzoo.run.config import build_parser

USAGE_WIDTH = 76
# Characters that Markdown (or the HTML inside it) would read as markup in a
# table cell; help texts are plain text.
_ESCAPES = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "\\": "\\\\",
    "*": "\\*", "_": "\\_", "`": "\\`", "[": "\\[", "]": "\\]",
}


def escape(text):
    """`text` as literal Markdown (a table cell shows it as it is)."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def anchor(name):
    """The heading id of command `name` (`kzoo-noisy-student`)."""
    return f"kzoo-{name}"


def table(header, rows):
    """A Markdown table of cells that are Markdown already."""
    return "\n".join(["| " + " | ".join(header) + " |",
                      "| " + " | ".join("---" for _ in header) + " |",
                      *("| " + " | ".join(row) + " |" for row in rows)])


def option_rows(parser):
    """`(flags, value, help)` of each option of a command's `parser`, as
    `kzoo <command> --help` lists them (`--config` included, `--help` left
    out)."""
    rows = []
    for action in parser._actions:  # the parser's own list, in --help order
        if isinstance(action, argparse._HelpAction):
            continue
        if action.choices:
            value = "{" + ",".join(str(c) for c in action.choices) + "}"
        elif action.nargs == 0:
            value = ""
        else:
            value = action.metavar or action.dest.upper()
        help_text = (action.help or "").replace("%%", "%")
        rows.append((", ".join(action.option_strings), value, help_text))
    return rows


def command_markdown(command):
    """The reference section of one command: usage, description and a row
    per option."""
    parser = build_parser(command)
    # The terminal's width would wrap the usage differently on every machine.
    parser.formatter_class = lambda prog: argparse.RawDescriptionHelpFormatter(
        prog, width=USAGE_WIDTH)
    lines = [
        f"## kzoo {command.name} {{#{anchor(command.name)}}}",
        "",
        escape(command.summary[:1].upper() + command.summary[1:]) + ".",
        "",
        "```text",
        parser.format_usage().rstrip(),
        "",
        command.description.rstrip(),
        "```",
        "",
        table(["option", "value", "meaning"], (
            [f"`{flags}`", f"`{value}`" if value else "", escape(help_text)]
            for flags, value, help_text in option_rows(parser))),
    ]
    return "\n".join(lines) + "\n"


def reference_markdown():
    """Every command: an index table, then a section each."""
    index = table(["command", "what it does"], (
        [f"[`kzoo {name}`](#{anchor(name)})", escape(c.summary)]
        for name, c in COMMANDS.items()))
    return index + "\n\n" + "\n".join(
        command_markdown(c) for c in COMMANDS.values())


if __name__ == "__main__":
    print(reference_markdown(), end="")
