"""Hostile `--config` files and sizes: bounded reading, bounded parsing,
bounded values; each refusal is one `error:` line naming the file or the
option (issue 25, items 9 and 11)."""

import itertools
import json
import os
import subprocess
import sys

import pytest

from kzoo.errors import KzooError
from kzoo.run import COMMANDS, configure
from kzoo.run import config as run_config
from kzoo.run import types as t
from kzoo.run.config import first_line, parse_argv
from tests.run.helpers import ROOT, one_error_line

# The documented limits (kzoo.run.config; test_the_limits_are_documented).
CONFIG_MAX_BYTES = 4 << 20
YAML_MAX_BYTES = 1 << 20
CONFIG_MAX_DEPTH = 16

# `kzoo <argv>` in a child process that may use at most this much memory:
# a config that expands without bound fails there (MemoryError), not here.
CHILD_MEMORY = 1 << 30
_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from kzoo import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def kzoo_bounded(*argv):
    """`kzoo *argv` in a child limited to `CHILD_MEMORY` (config parsing
    imports no TensorFlow): `(exit status, stderr)`."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(limit=CHILD_MEMORY), *map(str, argv)],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return done.returncode, done.stderr


def refusal(command, argv):
    """The one line `kzoo command *argv` prints, from parsing alone (a
    value that passes would start a run: none is started here)."""
    with pytest.raises(KzooError) as refused:
        parse_argv(COMMANDS[command], [str(a) for a in argv])
    return one_error_line(f"error: {first_line(refused.value)}\n")


def billion_laughs(levels=9):
    """The YAML "billion laughs" of issue 25 inside an option (`classes`):
    each level 9 aliases of the one before, 9**levels names once expanded."""
    names = "abcdefghijklmnop"[:levels - 1]
    lines = ["classes:", f"  - &{names[0]} [x,x,x,x,x,x,x,x,x]"]
    for before, name in itertools.pairwise(names):
        lines.append(f"  - &{name} [" + ",".join([f"*{before}"] * 9) + "]")
    lines.append("  - [" + ",".join([f"*{names[-1]}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs())
    assert len(path.read_bytes()) < 500
    code, err = kzoo_bounded("train", "--config", path, "--out", tmp_path / "r")
    assert code == 2, err[-2000:]
    line = one_error_line(err)
    assert str(path) in line and "alias *a (line 3)" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_a_config_that_is_no_regular_file_is_refused_unread(kind, tmp_path):
    path = {"device": "/dev/zero", "fifo": tmp_path / "cfg.json",
            "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # no writer: reading it would wait for ever
    code, err = kzoo_bounded("train", "--config", path, "--out", tmp_path / "r")
    assert code == 2, err[-2000:]
    line = one_error_line(err)
    assert f"Cannot read config file {path}: it is" in line
    assert "not a regular file" in line and f"{CONFIG_MAX_BYTES:,} bytes" in line


@pytest.mark.parametrize("suffix,limit", [(".json", CONFIG_MAX_BYTES),
                                          (".yaml", YAML_MAX_BYTES)])
def test_a_config_over_the_size_limit_is_refused(suffix, limit, tmp_path):
    path = tmp_path / f"cfg{suffix}"

    def write(size):  # a config of `size` bytes with one unknown key
        head, tail = ('{"x": "', '"}') if suffix == ".json" else ('x: "', '"')
        path.write_text(head + "a" * (size - len(head) - len(tail)) + tail)
        assert os.path.getsize(path) == size

    write(limit + 1)
    assert refusal("train", ["--config", path]) == (
        f"error: The config file {path} is larger than the limit of "
        f"{limit:,} bytes; refused.")
    write(limit)  # read and parsed: its unknown key is what is refused
    assert "Unknown keys ['x']" in refusal("train", ["--config", path])


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_deeply_nested_config_is_one_error_line(suffix, tmp_path):
    path = tmp_path / f"cfg{suffix}"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(f'{{"epochs": {deep}}}' if suffix == ".json"
                    else f"epochs: {deep}\n")
    line = refusal("train", ["--config", path])
    assert str(path) in line and "nest" in line
    assert str(CONFIG_MAX_DEPTH) in line


def test_nesting_just_past_the_limit_is_refused_and_at_it_read(tmp_path):
    path = tmp_path / "cfg.json"
    inner = "[" * (CONFIG_MAX_DEPTH - 1) + "]" * (CONFIG_MAX_DEPTH - 1)
    path.write_text(f'{{"classes": {inner}}}')  # depth = the limit
    line = refusal("train", ["--config", path])
    assert "classes: expected a list of names" in line  # parsed, then refused
    path.write_text(f'{{"classes": [{inner}]}}')
    assert (f"nests lists or mappings more than {CONFIG_MAX_DEPTH} levels"
            in refusal("train", ["--config", path]))


@pytest.mark.parametrize("marker", [5, "epochs", [1], {"a": 1}])
def test_a_recorded_marker_of_the_wrong_type_is_one_error_line(marker, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"epochs": 2, "kzoo_recorded": marker}))
    line = refusal("train", ["--config", path])
    assert str(path) in line and "kzoo_recorded must list the keys" in line


def test_a_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text('{"batch-size": 8, "batch_size": 16}')
    assert f"Config {path} sets batch_size twice" in refusal(
        "train", ["--config", path])


BOUNDS = [
    ("train", "batch_size", 2**63, "an integer in [1, 65,536]"),
    ("train", "input_size", 100_000, "an integer in [1, 1,024]"),
    ("train", "width", 1e6, "a number in (0, 4]"),
    ("train", "epochs", 10**9, "an integer in [1, 100,000]"),
    ("train", "steps_per_execution", 2**40, "an integer in [1, 10,000,000]"),
    ("train", "seed", 2**32, "an integer in [0, 2,147,483,647]"),
    ("train", "labels_per_class", 2**63, "an integer in [1, 10,000,000]"),
    ("fixmatch", "ratio", 10**6, "an integer in [1, 256]"),
    ("noisy-student", "rounds", 10**4, "an integer in [1, 100]"),
    ("noisy-student", "models", "lenet5,vgg11:1e6",
     "the WIDTH of 'vgg11:1e6': must be a number in (0, 4]"),
    ("distill", "teacher_width", 100.0, "a number in (0, 4]"),
    ("label-budget", "steps", 10**12, "an integer in [1, 10,000,000]"),
    ("label-budget", "seeds", "0,4294967296", "an integer in [0, 2,147,483,647]"),
    ("label-budget", "budgets", "5,99999999999", "an integer in [1, 10,000,000]"),
    ("search", "m_values", "5,31", "an integer in [0, 30]"),
    ("search", "trials", 10**5, "an integer in [1, 1,000]"),
    ("info", "num_classes", 10**7, "an integer in [1, 100,000]"),
    ("augment-preview", "images", 10**5, "an integer in [1, 64]"),
    ("predict", "top_k", 10**9, "an integer in [1, 100,000]"),
    ("evaluate", "batch_size", 2**63, "an integer in [1, 65,536]"),
]


@pytest.mark.parametrize("command,name,value,bound", BOUNDS,
                         ids=[f"{c}-{n}" for c, n, _, _ in BOUNDS])
def test_sizes_have_upper_bounds_from_flags_and_config_files(
        command, name, value, bound, tmp_path):
    option = COMMANDS[command].option(name)
    argv = [a for o in COMMANDS[command].options if o.required and o.name != name
            for a in (o.flag, "x")]
    line = refusal(command, [*argv, option.flag, value])
    assert f"argument {option.flag}: " in line and bound in line
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({name: value}))
    line = refusal(command, [*argv, "--config", path])
    assert f"{path}: {name}: " in line and bound in line


def test_the_bounds_are_in_the_help_and_the_largest_values_pass(capsys):
    from kzoo import cli

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "global batch (all replicas); at most 65,536 (default: 16)" in text
    assert "filter/unit multiplier; at most 4 (default: 1.0)" in text
    config = configure("train", batch_size=t.MAX_BATCH_SIZE,
                       input_size=t.MAX_INPUT_SIZE, width=t.MAX_WIDTH,
                       epochs=t.MAX_EPOCHS, seed=t.MAX_SEED)
    assert (config.batch_size, config.input_size, config.width) == (
        65_536, 1_024, 4.0)
    assert configure("search", m_values=[0, 30]).m_values == [0, 30]


def test_the_limits_are_documented():
    assert (run_config.CONFIG_MAX_BYTES, run_config.YAML_MAX_BYTES,
            run_config.CONFIG_MAX_DEPTH) == (CONFIG_MAX_BYTES, YAML_MAX_BYTES,
                                             CONFIG_MAX_DEPTH)


def test_the_magnitude_bound_is_randaugments():
    from kzoo.augment import randaugment

    assert t.MAX_MAGNITUDE == randaugment.MAX_MAGNITUDE


def test_a_huge_value_is_shown_shortened(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": "9" * 3000}))
    line = refusal("train", ["--config", path])
    assert len(line) < 600 and "3,000 characters" in line
    config, _ = parse_argv(COMMANDS["train"], ["--epochs", "3"])
    assert config.epochs == 3
