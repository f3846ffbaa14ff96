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

USER_ERRORS = (KzooError, ValueError, FileNotFoundError, NotADirectoryError)


def read_config(path):
    """Read a JSON or YAML config file into a dict with underscore keys."""
    with open(path) as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise KzooError(f"Reading {path} needs PyYAML (pip install pyyaml).")
        config = yaml.safe_load(text) or {}
    else:
        config = json.loads(text)
    if not isinstance(config, dict):
        raise KzooError(f"Config {path} must hold a mapping of flag names to values.")
    return {k.replace("-", "_"): v for k, v in config.items()}


def parse_args(parser, argv=None):
    """Parse flags, applying `--config FILE` underneath the explicit flags."""
    parser.add_argument("--config", help="JSON/YAML file of flag values")
    first, _ = parser.parse_known_args(argv)
    if first.config:
        config = read_config(first.config)
        known = {a.dest for a in parser._actions}
        unknown = sorted(set(config) - known)
        if unknown:
            raise KzooError(
                f"Unknown keys {unknown} in {first.config}. Valid keys: "
                f"{sorted(known - {'help', 'config'})}"
            )
        parser.set_defaults(**config)
    return parser.parse_args(argv)


def run_main(main, argv=None):
    """Run `main(argv)`; a user error becomes one `error: ...` line, exit 2.

    Set `KZOO_TRACEBACK=1` to get the full traceback instead.
    """
    try:
        return main(argv)
    except USER_ERRORS as err:
        if os.environ.get("KZOO_TRACEBACK"):
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        print(f"error: {message}", file=sys.stderr)
        return 2


def write_json(path, data):
    """Write `data` as indented JSON, replacing the file atomically."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def add_data_flags(parser):
    """Flags every recipe that reads a data spec takes."""
    parser.add_argument("--data", default="digits",
                        help="'digits', a folder, or 'tfds:NAME' (default: digits)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--download", action="store_true",
                        help="let TFDS download the dataset (off: never fetches)")
    parser.add_argument("--classes", type=name_list, default=None,
                        help="keep only these classes, e.g. '5,6,7,8,9' (default: all)")
    parser.add_argument("--seed", type=int, default=0)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def name_list(text):
    """'a,b,c' -> ['a', 'b', 'c'] (blank items dropped)."""
    return [item.strip() for item in str(text).split(",") if item.strip()]


def copy_args(args, **overrides):
    """A copy of an argparse namespace with some values replaced."""
    return argparse.Namespace(**dict(vars(args), **overrides))
