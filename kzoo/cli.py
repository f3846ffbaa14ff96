"""The `kzoo` command: one subcommand per technique, generated from the
run options (`kzoo.run.options`).

    kzoo --help
    kzoo train --data DIR --epochs 30
    kzoo noisy-student --config saved_models/noisy_student-digits/config.json

`kzoo <command> --help` lists every option with its default and needs no
TensorFlow import. A user error (bad flag, unusable data, a folder that is
not kzoo's) is one `error: ...` line and exit status 2; set
`KZOO_TRACEBACK=1` for the traceback. The scripts in `recipes/` call
`run_recipe`, so `python recipes/train.py ...` is `kzoo train ...`.
"""

import os
import sys

from kzoo.errors import KzooError
from kzoo.run.config import first_line, parse_argv
from kzoo.run.options import COMMANDS

USER_ERRORS = (KzooError, ValueError, FileNotFoundError, NotADirectoryError)


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
    """`kzoo ...`: returns the exit status (0 ok, 2 user error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from kzoo import __version__  # kzoo/__init__.py imports no TensorFlow

        print(f"kzoo {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}; expected one of "
              f"{', '.join(COMMANDS)} (kzoo --help)", file=sys.stderr)
        return 2
    return run_command(argv[0], argv[1:])


def run_command(name, argv, prog=None):
    """Parse `argv` for command `name` and run it; 0, or 2 on a user error."""
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
