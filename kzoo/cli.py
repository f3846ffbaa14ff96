"""Helpers shared by the scripts in `recipes/`: config files, errors, output.

A recipe builds an `argparse` parser, then calls `parse_args(parser, argv)`,
which also reads `--config FILE` (JSON, or YAML when PyYAML is installed):
values from the file replace the parser defaults and explicit command-line
flags override both.
"""

import argparse
import json
import os
import sys

from kzoo.errors import KzooError
from kzoo.outputs import write_json  # noqa: F401  (recipes write through cli)

USER_ERRORS = (KzooError, ValueError, FileNotFoundError, NotADirectoryError)


# The key under which `record_config` lists the keys of a run's config.json
# that are facts about the run (class names, counts, ...), not flags.
RECORDED_KEY = "kzoo_recorded"


def read_config(path):
    """Read a JSON or YAML config file into a dict with underscore keys.

    A run's own `config.json` replays it: the facts it records beside the
    flags (listed under `RECORDED_KEY`) are dropped.

    Raises:
        KzooError: The file cannot be read, does not parse, or does not hold
            a mapping.
    """
    try:
        with open(path) as f:
            text = f.read()
    except OSError as err:
        raise KzooError(f"Cannot read config file {path}: "
                        f"{err.strerror or err}.") from None
    try:
        if path.endswith((".yaml", ".yml")):
            config = _load_yaml(path, text)
        else:
            config = json.loads(text)
    except ValueError as err:
        raise KzooError(f"Config file {path} does not parse: {first_line(err)}"
                        ) from None
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise KzooError(f"Config {path} must hold a mapping of flag names to values.")
    facts = config.pop(RECORDED_KEY, None) or []
    return {k.replace("-", "_"): v for k, v in config.items() if k not in facts}


def _load_yaml(path, text):
    try:
        import yaml
    except ImportError:
        raise KzooError(f"Reading {path} needs PyYAML (pip install pyyaml).")
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ValueError(" ".join(str(err).split())) from None


# Flags that say how a run was started, not what it computes: never
# recorded, so that replaying a config.json resumes rather than restarts.
NOT_RECORDED = ("config", "fresh")


def record_config(flags, **facts):
    """A run's config.json content: its flags (replayable with `--config`)
    and `facts` about the run, listed under `RECORDED_KEY`."""
    config = {k: v for k, v in flags.items() if k not in NOT_RECORDED}
    config.update(facts)
    config[RECORDED_KEY] = sorted(facts)
    return config


def parse_args(parser, argv=None):
    """Parse flags, applying `--config FILE` underneath the explicit flags.

    Config values pass the same checks as flags (each flag's type and
    choices), so a file cannot set what the command line would refuse. Flags
    a recipe marked with `not_applicable` are refused when set either way.

    Raises:
        KzooError: Unknown key, or a value the flag would not accept; a bad
            command line too (argparse's message, as one line).
    """
    parser.add_argument("--config", help="JSON/YAML file of flag values")
    parser.error = _refuse_command_line
    required = [a for a in parser._actions if a.required]
    for action in required:  # until we know what the config file gives
        action.required = False
    first, _ = parser.parse_known_args(argv)
    for action in required:
        action.required = True
    if first.config:
        config = read_config(first.config)
        actions = {a.dest: a for a in parser._actions
                   if a.dest not in ("help", "config")}
        unknown = sorted(set(config) - set(actions))
        if unknown:
            raise KzooError(
                f"Unknown keys {unknown} in {first.config}. Valid keys: "
                f"{sorted(actions)}"
            )
        parser.set_defaults(**{key: _config_value(actions[key], value, first.config)
                               for key, value in config.items()})
        for key in config:  # a required flag the file gives is given
            actions[key].required = False
    args = parser.parse_args(argv)
    for group in parser._mutually_exclusive_groups:
        given = ["--" + a.dest.replace("_", "-") for a in group._group_actions
                 if getattr(args, a.dest, None) not in (None, False)]
        if len(given) > 1:
            raise KzooError(f"{' and '.join(given)} exclude each other (a --config "
                            f"file may have set one). Received: {given}")
    for dest, reason in getattr(parser, "kzoo_not_applicable", {}).items():
        if getattr(args, dest, None) is not None:
            flag = "--" + dest.replace("_", "-")
            raise KzooError(f"{flag} does not apply to {parser.prog}: {reason}. "
                            f"Received: {flag} {getattr(args, dest)}")
    return args


def _refuse_command_line(message):
    raise KzooError(f"{message} (--help lists the flags)")


def _config_value(action, value, path):
    """`value` from a config file, checked and converted as the flag would be."""
    flag = action.option_strings[-1] if action.option_strings else action.dest

    def refuse(why):
        raise KzooError(f"{path}: {action.dest}: {why}. Received: {value!r}")

    if value is None:
        if action.default is None:
            return None  # the flag's own "not set"
        refuse(f"expected a value for {flag}")
    if action.nargs == 0:  # store_true / BooleanOptionalAction
        if not isinstance(value, bool):
            refuse("expected true or false")
        return value
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    if isinstance(value, (dict, bool)):
        refuse(f"expected a value for {flag}")
    try:
        converted = action.type(str(value)) if action.type else str(value)
    except (argparse.ArgumentTypeError, TypeError, ValueError) as err:
        refuse(str(err) or "invalid value")
    if action.choices is not None and converted not in action.choices:
        refuse(f"expected one of {list(action.choices)}")
    return converted


def not_applicable(parser, **reasons):
    """Mark flags a recipe inherits but does not use: `parse_args` refuses
    them (`dest=reason`), so a flag is honoured or rejected, never ignored."""
    for action in parser._actions:
        if action.dest in reasons:
            action.default = None
            action.help = f"not used here: {reasons[action.dest]}"
    parser.kzoo_not_applicable = dict(
        getattr(parser, "kzoo_not_applicable", {}), **reasons)


def run_main(main, argv=None):
    """Run `main(argv)`; a user error becomes one `error: ...` line, exit 2.

    Set `KZOO_TRACEBACK=1` to get the full traceback instead.
    """
    try:
        return main(argv)
    except USER_ERRORS as err:
        if os.environ.get("KZOO_TRACEBACK"):
            raise
        print(f"error: {first_line(err)}", file=sys.stderr)
        return 2


def first_line(err):
    """An exception's message as one line (its repr when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)


def print_skipped(data):
    """One line per file the data scan skipped, with its reason."""
    for path in data.skipped_files:
        print(f"  skipped: {path}: {data.skipped_reasons.get(path, 'not an image')}")


def add_data_flags(parser):
    """Flags every recipe that reads a data spec takes."""
    parser.add_argument("--data", default="digits",
                        help="'digits', a folder, or 'tfds:NAME' (default: digits)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--download", action="store_true",
                        help="let TFDS download the dataset (off: never fetches)")
    parser.add_argument("--classes", type=name_list, default=None,
                        help="keep only these classes, e.g. '5,6,7,8,9' (default: all)")
    parser.add_argument("--seed", type=non_negative_int, default=0)


def _parsed(convert, kind):
    def parse(text):
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {kind}, got {text!r}") from None

    return parse


_integer = _parsed(int, "an integer")
_number = _parsed(float, "a number")


def _checked(parse, within, what, doc):
    """A flag type: `parse`, then refuse values outside `within` (NaN too)."""

    def check(text):
        value = parse(text)
        if not within(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    check.__doc__ = doc
    return check


_INF = float("inf")
positive_int = _checked(_integer, lambda v: v >= 1, ">= 1", "An integer >= 1.")
non_negative_int = _checked(_integer, lambda v: v >= 0, ">= 0", "An integer >= 0.")
positive_float = _checked(_number, lambda v: 0 < v < _INF, "a finite number > 0",
                          "Learning rates, widths, temperatures.")
non_negative_float = _checked(_number, lambda v: 0 <= v < _INF,
                              "a finite number >= 0", "Loss weights, multipliers.")
unit_interval = _checked(_number, lambda v: 0 <= v <= 1, "in [0, 1]",
                         "Confidence thresholds, loss weights.")
rate = _checked(_number, lambda v: 0 <= v < 1, "in [0, 1)",
                "Dropout, label smoothing, held-out fractions.")
fraction = _checked(_number, lambda v: 0 < v <= 1, "in (0, 1]", "A label fraction.")


def name_list(text):
    """'a,b,c' -> ['a', 'b', 'c'] (blank items dropped)."""
    return [item.strip() for item in str(text).split(",") if item.strip()]


def copy_args(args, **overrides):
    """A copy of an argparse namespace with some values replaced."""
    return argparse.Namespace(**dict(vars(args), **overrides))
