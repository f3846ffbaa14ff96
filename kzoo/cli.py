"""The `kzoo` command: one subcommand per technique, generated from the
run options (`kzoo.run.commands`).

    kzoo --help
    kzoo train --data DIR --epochs 30
    kzoo noisy-student --config saved_models/noisy_student-digits/config.json

`kzoo <command> --help` lists every option with its default and needs no
TensorFlow import. A user error (bad flag, unusable data, a folder that is
not kzoo's) is one `error: ...` line and exit status 2; set
`KZOO_TRACEBACK=1` for the traceback. Ctrl-C is one line too, exit
status 130 (the shell's for SIGINT); a training command's line says that
the same command resumes it. The scripts in `recipes/` call `run_recipe`,
so `python recipes/train.py ...` is `kzoo train ...`.
"""

import os
import sys

from kzoo.errors import KzooError
from kzoo.run.commands import COMMANDS
from kzoo.run.config import first_line, parse_argv
from kzoo.run.suggest import did_you_mean

USER_ERRORS = (KzooError, ValueError, FileNotFoundError, NotADirectoryError)
# The exit status of a command stopped by Ctrl-C: 128 + SIGINT, as a shell
# reports a process that SIGINT ended.
INTERRUPTED = 130


def usage():
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: kzoo <command> [options]   (kzoo <command> --help: every option "
        "and default)",
        "",
        "kzoo: label-efficient image classification with Keras 3 / TensorFlow.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {c.summary}" for name, c in COMMANDS.items()),
        "",
        "Every training command takes --smoke (a 2-step wiring check into "
        "--out/smoke),",
        "--config FILE (JSON/YAML; a run's config.json replays it) and resumes "
        "an",
        "interrupted run when the same command runs again.",
    ]
    return "\n".join(lines)


def main(argv=None):
    """`kzoo ...`: returns the exit status (0 ok, 2 user error, 130 Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from kzoo import __version__  # kzoo/__init__.py imports no TensorFlow

        print(f"kzoo {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        hint = did_you_mean([argv[0]], COMMANDS, show=repr)
        print(f"error: unknown command {argv[0]!r}{hint}; expected one of "
              f"{', '.join(COMMANDS)} (kzoo --help)", file=sys.stderr)
        return 2
    return run_command(argv[0], argv[1:])


def run_command(name, argv, prog=None):
    """Parse `argv` for command `name` and run it; 0, 2 on a user error,
    `INTERRUPTED` (130) on Ctrl-C."""
    config = None
    try:
        config, _ = parse_argv(COMMANDS[name], argv, prog)
        from kzoo import run

        run.run(config)
        return 0
    except USER_ERRORS as err:
        if os.environ.get("KZOO_TRACEBACK"):
            raise
        print(f"error: {first_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if os.environ.get("KZOO_TRACEBACK"):
            raise
        print(interrupted_line(COMMANDS[name], config), file=sys.stderr)
        return INTERRUPTED


def interrupted_line(command, config=None):
    """What Ctrl-C prints. A command that keeps backups (a training
    command: it has --fresh) resumes when the same command runs again,
    once its options were read (`config`); any other starts over."""
    if not any(option.name == "fresh" for option in command.options):
        return (f"interrupted (kzoo {command.name} does not resume: run it "
                "again to start over)")
    if config is None:  # stopped while reading its options: nothing started
        return "interrupted"
    again = "the same command without --fresh" if config.fresh else (
        "the same command")
    return f"interrupted; run {again} to resume from its last backup"


def entry():
    """The console script: TensorFlow's native start-up noise filtered."""
    sys.exit(_filtered(main))


def run_recipe(name):
    """`python recipes/<x>.py ...` = `kzoo <name> ...`."""
    prog = f"{os.path.basename(sys.argv[0])}"
    sys.exit(_filtered(lambda: run_command(name, sys.argv[1:], prog=prog)))


def _filtered(call):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kzoo.run import native_logs

    with native_logs.filtered_stderr():
        native_logs.drop_retracing_warnings()
        return call()
