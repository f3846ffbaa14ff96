"""The generated command reference (`kzoo.run.reference`) says what
`kzoo <command> --help` says, and renders as plain text."""

import html
import re

import markdown
import pytest

from kzoo.run import reference
from kzoo.run.commands import COMMANDS
from kzoo.run.config import build_parser

EXTENSIONS = ["tables", "attr_list", "fenced_code"]


def _cells(html_text):
    """The text of each `<td>` of the rendered tables, row by row."""
    rows = re.findall(r"<tr>(.*?)</tr>", html_text, flags=re.DOTALL)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c))
             for c in re.findall(r"<td>(.*?)</td>", row, flags=re.DOTALL)]
            for row in rows if "<td>" in row]


def _help_lines(command):
    """Each option's help as `--help` prints it, whitespace joined."""
    parser = build_parser(command)
    return {", ".join(a.option_strings): " ".join((a.help or "").replace("%%", "%").split())
            for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_help_is_a_row_with_the_same_text(name):
    command = COMMANDS[name]
    rendered = markdown.markdown(reference.command_markdown(command),
                                 extensions=EXTENSIONS)
    rows = {flags: " ".join(text.split()) for flags, _, text in _cells(rendered)}
    expected = _help_lines(command)
    assert rows == expected
    assert f'id="kzoo-{name}"' in rendered
    # The usage and the description are the parser's, word for word.
    block = html.unescape(re.search(r"<pre><code[^>]*>(.*?)</code></pre>", rendered, re.DOTALL)[1])
    assert " ".join(command.description.split()) in " ".join(block.split())
    assert block.startswith(f"usage: kzoo {name} ")


def test_the_index_links_every_command_to_its_section():
    text = reference.reference_markdown()
    for name in COMMANDS:
        assert f"](#kzoo-{name})" in text
        assert f"## kzoo {name} {{#kzoo-{name}}}" in text
    assert text.count("\n## ") == len(COMMANDS)


@pytest.mark.parametrize("text", [
    "DIR/train/<class>/*.png|jpg", "a_b *c* `d` [e](f) <script>x</script> & \\",
    "50% of 2**3",
])
def test_markup_in_help_is_shown_as_written(text):
    rendered = markdown.markdown(
        f"| a |\n| --- |\n| {reference.escape(text)} |", extensions=EXTENSIONS)
    assert _cells(rendered) == [[text]]


def test_usage_does_not_depend_on_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    narrow = reference.command_markdown(COMMANDS["train"])
    monkeypatch.setenv("COLUMNS", "300")
    assert reference.command_markdown(COMMANDS["train"]) == narrow


def test_module_prints_the_reference(capsys):
    import runpy

    runpy.run_module("kzoo.run.reference", run_name="__main__")
    assert capsys.readouterr().out == reference.reference_markdown()
