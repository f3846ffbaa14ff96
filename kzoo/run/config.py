"""Run configurations: one definition of every option, three views of it.

An `Option` defines a setting once: its name, default, type (a function
from the command-line text to the value, which also checks it), choices
and help. A `Command` (a technique: `train`, `noisy-student`, ...) is a
tuple of options. From that single definition come

- the command line (`build_parser`, used by `kzoo <command>` and the
  scripts in `recipes/`),
- `--config FILE` (JSON, or YAML with PyYAML) and keyword arguments of
  `configure` (library use), both checked by the same types, and
- the recorded `config.json` of a run (`RunConfig.to_dict` plus facts,
  `record_config`), which `--config` replays.

Nothing here imports TensorFlow: `kzoo --help` stays fast.
"""

import argparse
import dataclasses
import json

from kzoo.errors import KzooError, shortened
from kzoo.reading import read_text
from kzoo.run.suggest import did_you_mean
from kzoo.run.types import ListType

# The key under which `record_config` lists the keys of a run's config.json
# that are facts about the run (class names, counts, ...), not options.
RECORDED_KEY = "kzoo_recorded"

# Options that say how a run was started, not what it computes: never
# recorded, so that replaying a config.json resumes rather than restarts.
NOT_RECORDED = ("config", "fresh")

# A config file is read only up to this size (a run's config.json is a few
# kB; the names of 21,841 ImageNet classes take about 300 kB). JSON and YAML
# of this size parse to at most a few hundred MB of Python objects: YAML
# aliases, which could expand a few hundred bytes into gigabytes, are
# refused, so every node of the parsed structure is a piece of the text.
CONFIG_MAX_BYTES = 4 << 20
# YAML builds about ten times slower and larger than JSON (a 1 MiB list of
# one-character items: about 9 s and 200 MB with libyaml), and is written by
# hand: a smaller limit.
YAML_MAX_BYTES = 1 << 20
# Nesting a config file may have (options are values or lists; the facts of
# a recorded run, such as an LwF run's class names per task, go 3 deep).
CONFIG_MAX_DEPTH = 16


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting of a run.

    Attributes:
        name: Python name (`batch_size`); the flag is `--batch-size`.
        default: Value when not given (`None`: "not set").
        type: Text -> value, raising `argparse.ArgumentTypeError` (or
            ValueError) on a bad value; None keeps the text.
        help: One-line help; the default is appended by `help_text`.
        choices: Allowed values, or None.
        kind: `"value"`, `"switch"` (`--flag` sets True) or `"bool"`
            (`--flag` / `--no-flag`).
        required: The run cannot start without it (a config file may give it).
        exclusive: Options sharing this group name exclude each other.
        not_applicable: Why a command that inherits this option refuses it
            (it is then None and any value is an error).
    """

    name: str
    default: object = None
    type: object = None
    help: str = ""
    choices: tuple = None
    kind: str = "value"
    required: bool = False
    exclusive: str = None
    not_applicable: str = None

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    @property
    def is_list(self):
        """Whether the value is a list (the flag may be repeated)."""
        return isinstance(self.type, ListType)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def refused(self, reason):
        """This option as a command that does not use it declares it."""
        return self.replace(default=None, not_applicable=reason)

    def help_text(self):
        if self.not_applicable:
            return f"not used here: {self.not_applicable}"
        text = self.help
        bounds = getattr(self.type, "bounds", None)
        if self.is_list and not self.type.paths and "repeat" not in text:
            bounds = "; ".join(filter(None, (
                "comma-separated, or the flag repeated (one item each)", bounds)))
        if bounds and bounds not in text:
            text = f"{text}; {bounds}" if text else bounds
        if self.required:
            return f"{text} (required)".strip()
        if "default:" not in text and self.kind != "switch":
            shown = self.default
            if isinstance(shown, (list, tuple)):
                shown = ",".join(str(v) for v in shown)
            text = f"{text} (default: {'not set' if shown is None else shown})"
        return text.strip()

    def convert(self, value, source):
        """`value` from a config file or keyword argument, checked and
        converted as the flag would be.

        Raises:
            KzooError: Naming `source` and the option.
        """
        def refuse(why):
            raise KzooError(f"{source}: {self.name}: {why}. Received: "
                            f"{shortened(value)}")

        if value is None:
            if self.default is None:
                return None  # the option's own "not set"
            refuse(f"expected a value for {self.flag}")
        if self.kind != "value":
            if not isinstance(value, bool):
                refuse("expected true or false")
            return value
        if isinstance(value, (dict, bool)):
            refuse(f"expected a value for {self.flag}")
        listed = isinstance(value, (list, tuple))
        if listed and not self.is_list:
            refuse(f"expected a single value for {self.flag}, not a list")
        try:
            if listed:  # item by item: an item is never split on commas
                converted = self.type.from_items(value)
            else:
                converted = self.type(str(value)) if self.type else str(value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as err:
            refuse(str(err) or "invalid value")
        if self.choices is not None and converted not in self.choices:
            refuse(f"expected one of {list(self.choices)}")
        return converted


@dataclasses.dataclass(frozen=True)
class Command:
    """A technique: its options, and the library function that runs it.

    Attributes:
        name: Subcommand name (`noisy-student`).
        summary: One line for `kzoo --help`.
        description: The longer text of `kzoo <name> --help`.
        target: `"module:function"` of the function taking a `RunConfig`
            (imported only when the command runs).
        options: Tuple of `Option`.
    """

    name: str
    summary: str
    description: str
    target: str
    options: tuple

    def option(self, name):
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def defaults(self):
        return {o.name: o.default for o in self.options}


class RunConfig:
    """The validated settings of one run of `command` (attribute access).

    Build one with `configure` or `parse_argv`; `replace` gives a copy with
    some values changed (the engine's resolved values), `to_dict` the
    values (JSON-able), which `configure(command, **d)` reads back.
    """

    __slots__ = ("_values", "command")

    def __init__(self, command, values):
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"{self.command.name} has no option {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("RunConfig is immutable; use .replace(...)")

    def __contains__(self, name):
        return name in self._values

    def __eq__(self, other):
        return (isinstance(other, RunConfig) and self.command == other.command
                and self._values == other._values)

    def __repr__(self):
        values = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"RunConfig({self.command.name}: {values})"

    def get(self, name, default=None):
        return self._values.get(name, default)

    def replace(self, **changes):
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise KeyError(f"{self.command.name} has no options {unknown}")
        return RunConfig(self.command, {**self._values, **changes})

    def to_dict(self):
        return dict(self._values)


def configure(command, **values):
    """A `RunConfig` of `command` from keyword arguments (library use).

    Values are checked and converted by each option's type, exactly as
    the command line and config files are; missing ones take defaults.

    Example:
        >>> config = configure(COMMANDS["train"], epochs=3, smoke=True)

    Raises:
        KzooError: Unknown option, bad value, a required option missing,
            exclusive options both set, or a refused option set.
    """
    given = _converted(command, values, f"kzoo {command.name}")
    return _checked(command, {**command.defaults(), **given})


def _converted(command, values, source):
    names = {o.name for o in command.options}
    unknown = sorted(set(values) - names)
    if unknown:
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        shown = [k if len(k) <= 60 else f"{k[:40]}...{k[-12:]}" for k in unknown[:10]]
        hint = did_you_mean(unknown[:10], names, show=repr)
        raise KzooError(f"Unknown keys {shown}"
                        f"{more} in {source}{hint}. Valid keys: {sorted(names)}")
    return {k: command.option(k).convert(v, source) for k, v in values.items()}


def _checked(command, values):
    for option in command.options:
        if option.required and values.get(option.name) is None:
            raise KzooError(f"{option.flag} is required for kzoo {command.name}: "
                            f"{option.help}")
        if option.not_applicable and values.get(option.name) is not None:
            raise KzooError(
                f"{option.flag} does not apply to kzoo {command.name}: "
                f"{option.not_applicable}. Received: {option.flag} "
                f"{shortened(values[option.name], as_text=True)}")
    groups = {}
    for option in command.options:
        if option.exclusive and values.get(option.name) not in (None, False):
            groups.setdefault(option.exclusive, []).append(option.flag)
    for given in groups.values():
        if len(given) > 1:
            raise KzooError(f"{' and '.join(given)} exclude each other (a --config "
                            f"file may have set one). Received: {given}")
    return RunConfig(command, values)


def build_parser(command, prog=None):
    """The `argparse` parser of `command` (plus `--config`), every default
    in its help."""
    parser = argparse.ArgumentParser(
        prog=prog or f"kzoo {command.name}", description=command.description,
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    flags = ["--config", "--help"]
    parser.error = lambda message: _refuse_command_line(
        message + _unrecognized_hint(message, flags))
    groups = {}
    for option in command.options:
        target = parser
        if option.exclusive:
            if option.exclusive not in groups:
                groups[option.exclusive] = parser.add_mutually_exclusive_group()
            target = groups[option.exclusive]
        help_text = option.help_text().replace("%", "%%")
        if option.kind == "switch":
            action = target.add_argument(
                option.flag, dest=option.name, action="store_true",
                default=None, help=help_text)
        elif option.kind == "bool":
            action = target.add_argument(
                option.flag, dest=option.name, default=None,
                action=argparse.BooleanOptionalAction, help=help_text)
        elif option.is_list:  # converted by parse_argv (ListType.from_flags)
            action = target.add_argument(
                option.flag, dest=option.name, action="append", default=None,
                metavar=option.name.upper(), help=help_text)
        else:
            action = target.add_argument(
                option.flag, dest=option.name, type=option.type,
                choices=option.choices, default=None,
                metavar=None if option.choices else option.name.upper(),
                help=help_text)
        flags.extend(action.option_strings)
    parser.add_argument("--config", metavar="FILE",
                        help="JSON/YAML file of option values (a run's "
                             "config.json replays it); flags given override it")
    return parser


def parse_argv(command, argv, prog=None):
    """`(RunConfig, config_path)` from command-line flags over `--config`
    values over the defaults.

    Raises:
        KzooError: A bad flag (argparse's message, as one line), or any
            error of `configure`.
    """
    args = vars(build_parser(command, prog).parse_args(argv))
    path = args.pop("config")
    values = command.defaults()
    if path:
        values.update(_converted(command, read_config(path), path))
    for name, value in args.items():
        if value is not None:
            values[name] = _from_flags(command.option(name), value)
    return _checked(command, values), path


def _from_flags(option, value):
    """A list option's flag values (one per occurrence) as its list."""
    if not option.is_list:
        return value
    try:
        return option.type.from_flags(value)
    except (argparse.ArgumentTypeError, ValueError) as err:
        _refuse_command_line(f"argument {option.flag}: {err}")


def _refuse_command_line(message):
    raise KzooError(f"{message} (--help lists the flags)")


# What argparse's message for flags it does not know starts with.
_UNRECOGNIZED = "unrecognized arguments: "


def _unrecognized_hint(message, flags):
    """`' (did you mean --flexmatch?)'` for argparse's "unrecognized
    arguments" `message` when a flag in it is close to one of `flags`
    (argparse suggests by itself from Python 3.14 only); else `''`."""
    if not message.startswith(_UNRECOGNIZED):
        return ""
    words = [w.split("=", 1)[0] for w in message[len(_UNRECOGNIZED):].split()
             if w.startswith("-")]
    return did_you_mean(words, flags)


def read_config(path):
    """Read a JSON or YAML config file into a dict with underscore keys.

    A run's own `config.json` replays it: the facts it records beside the
    options (listed under `RECORDED_KEY`) are dropped. The file is read up
    to `CONFIG_MAX_BYTES` (YAML: `YAML_MAX_BYTES`); YAML aliases are
    refused, and so is nesting deeper than `CONFIG_MAX_DEPTH`.

    Raises:
        KzooError: The file cannot be read, is not a regular file, is too
            large, does not parse, nests too deeply, or does not hold a
            mapping (with a list of strings under `RECORDED_KEY`).
    """
    is_yaml = str(path).endswith((".yaml", ".yml"))
    text = read_text(path, YAML_MAX_BYTES if is_yaml else CONFIG_MAX_BYTES,
                     "config file")
    try:
        if is_yaml:
            config = _load_yaml(path, text)
        else:
            config = json.loads(text)
    except KzooError:
        raise
    except RecursionError:
        raise KzooError(f"Config file {path} is nested too deeply to parse; "
                        f"expected at most {CONFIG_MAX_DEPTH} levels.") from None
    except ValueError as err:
        raise KzooError(f"Config file {path} does not parse: {first_line(err)}"
                        ) from None
    _check_depth(config, path)
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise KzooError(f"Config {path} must hold a mapping of flag names to values.")
    facts = config.pop(RECORDED_KEY, None) or []
    if not isinstance(facts, list) or not all(isinstance(k, str) for k in facts):
        raise KzooError(
            f"Config {path}: {RECORDED_KEY} must list the keys of the facts a "
            f"run recorded (strings). Received: {shortened(facts)}")
    values = {}
    for key, value in config.items():
        if key in facts:
            continue
        name = key.replace("-", "_")
        if name in values:
            raise KzooError(f"Config {path} sets {name} twice (as "
                            f"{name.replace('_', '-')} and {name}). "
                            f"Received: {key!r}")
        values[name] = value
    return values


def _check_depth(value, path):
    """Refuse nesting deeper than `CONFIG_MAX_DEPTH` (without recursion)."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        children = (value.values() if isinstance(value, dict) else value
                    if isinstance(value, list) else ())
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > CONFIG_MAX_DEPTH:
                    raise KzooError(
                        f"Config file {path} nests lists or mappings more than "
                        f"{CONFIG_MAX_DEPTH} levels deep.")
                stack.append((child, depth + 1))


def _load_yaml(path, text):
    """The YAML `text`, with PyYAML's safe loader (plain data; Python tags
    are refused), after one pass over its events that refuses aliases and
    nesting deeper than `CONFIG_MAX_DEPTH` before anything is built (the C
    loader would crash on deep nesting, and aliases can expand a few
    hundred bytes into gigabytes)."""
    try:
        import yaml
    except ImportError:
        raise KzooError(f"Reading {path} needs PyYAML (pip install pyyaml).")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise KzooError(
                    f"Config file {path} uses the YAML alias *{event.anchor} "
                    f"(line {event.start_mark.line + 1}): aliases are not "
                    "allowed in a kzoo config (a few can expand to "
                    "gigabytes); write the values out.")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > CONFIG_MAX_DEPTH:
                    raise KzooError(
                        f"Config file {path} nests lists or mappings more than "
                        f"{CONFIG_MAX_DEPTH} levels deep (line "
                        f"{event.start_mark.line + 1}).")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader) or {}
    except yaml.YAMLError as err:
        message = " ".join(str(err).split())
        if "nesting depth" in message:
            # libyaml 0.2.5's scanner (PyYAML >= 6.0.4) refuses 1,000 open
            # collections while scanning ahead, before their events reach
            # the count above: the same refusal, said the same way.
            raise KzooError(
                f"Config file {path} nests lists or mappings more than "
                f"{CONFIG_MAX_DEPTH} levels deep ({message}).") from None
        raise ValueError(message) from None


def record_config(values, **facts):
    """A run's config.json content: its option values (replayable with
    `--config`) and `facts` about the run, listed under `RECORDED_KEY`."""
    config = {k: v for k, v in values.items() if k not in NOT_RECORDED}
    config.update(facts)
    config[RECORDED_KEY] = sorted(facts)
    return config


def first_line(err):
    """An exception's message as one line (its repr when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)
