"""The run configuration: one definition gives the command line, config
files, keyword arguments and the recorded config.json."""

import json
import subprocess
import sys
import time

import pytest

from kzoo.errors import KzooError
from kzoo.run import COMMANDS, configure
from kzoo.run.config import parse_argv, read_config, record_config


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_its_defaults_and_round_trips(name):
    command = COMMANDS[name]
    required = {o.name: "x" for o in command.options if o.required}
    if name == "lwf":
        required["old_classes"] = ["0", "1"]
    if name == "select":
        required["budget"] = 5
    config = configure(name, **required)
    for option in command.options:
        if option.name not in required:
            assert getattr(config, option.name) == option.default
    # to_dict -> JSON -> configure gives the same config back.
    again = configure(name, **json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_flags_override_a_config_file_which_overrides_defaults(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 7, "lr": 0.5, "batch-size": 8}))
    config, given = parse_argv(COMMANDS["train"], ["--config", str(path),
                                                   "--epochs", "3"])
    assert given == str(path)
    assert (config.epochs, config.lr, config.batch_size) == (3, 0.5, 8)
    assert config.model == "lenet5"


def test_keyword_arguments_pass_the_same_checks_as_flags():
    with pytest.raises(KzooError, match="lr: must be a finite number > 0"):
        configure("train", lr=-1)
    with pytest.raises(KzooError, match=r"Unknown keys \['epoch'\]"):
        configure("train", epoch=3)
    with pytest.raises(KzooError, match="expected true or false"):
        configure("train", smoke="yes")
    with pytest.raises(KzooError, match="exclude each other"):
        configure("train", labels_per_class=5, label_fraction=0.5)
    with pytest.raises(KzooError, match="--source is required"):
        configure("transfer")
    with pytest.raises(KzooError, match="--model does not apply to kzoo distill"):
        configure("distill", model="vgg11")
    assert configure("train", classes="1, 2").classes == ["1", "2"]
    assert configure("train", classes=[1, 2]).classes == ["1", "2"]


def test_a_recorded_config_reads_back_without_its_facts(tmp_path):
    config = configure("train", epochs=2)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(record_config(config.to_dict(), counts={"a": 1},
                                             command="train")))
    expected = {k: v for k, v in config.to_dict().items() if k != "fresh"}
    assert read_config(str(path)) == expected  # never recorded: see NOT_RECORDED


def test_replace_changes_known_options_only():
    config = configure("train")
    assert config.replace(epochs=5).epochs == 5 and config.epochs == 30
    with pytest.raises(KeyError):
        config.replace(nope=1)
    with pytest.raises(AttributeError):
        config.epochs = 3


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_every_default(name, capsys):
    from kzoo import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main([name, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in COMMANDS[name].options:
        assert option.flag in text
        if option.kind == "value" and option.default not in (None, [], ""):
            shown = option.default
            if isinstance(shown, list):
                shown = ",".join(map(str, shown))
            assert f"default: {shown}" in text, option.name


def test_help_is_fast_and_imports_no_tensorflow():
    code = ("import sys, time; t = time.time(); from kzoo import cli\n"
            "try:\n    cli.main(['noisy-student', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
            "print('took', time.time() - t, file=sys.stderr)")
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=60)
    elapsed = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert "--student-epochs" in done.stdout
    assert elapsed < 2.0, f"kzoo noisy-student --help took {elapsed:.2f} s"


def test_the_help_strings_match_the_library():
    from kzoo import runtime
    from kzoo.augment import DEFAULT_POLICY
    from kzoo.run import options
    from kzoo.run.commands import select
    from kzoo.select import STRATEGIES
    from kzoo.training import plan

    assert select.SELECT_STRATEGIES == tuple(STRATEGIES)
    assert options.DEFAULT_POLICY == DEFAULT_POLICY
    assert options.STRATEGIES == runtime.STRATEGIES
    assert options.CHECK_EVERY == plan.CHECK_EVERY


def test_version_is_the_packages(capsys):
    import kzoo
    from kzoo import cli

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kzoo {kzoo.__version__}"
