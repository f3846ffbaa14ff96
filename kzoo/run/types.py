"""Option types: text -> checked value (an `argparse` type, and the check
config files and keyword arguments pass through too).

Every size and count has an upper bound that no real run on one machine
(up to 8 GPUs of 80-140 GB) needs to exceed: a value past it is refused
before anything is built, with the bound in the message and in the
option's help (`bounds`), rather than failing minutes later with an
overflow or an allocation of terabytes.

List options (`ListType`) take a list from a config file or keyword
argument item by item, and from the command line either several flags (each
one item, kept whole: `--data a --data 'b,c.png'`) or one comma-separated
value (see `ListType.from_flags`).
"""

import argparse
import os

# Upper bounds of sizes and counts (see the module docstring), each far
# above what kzoo's models and data need:
# - batch: 65,536 images is a TPU-pod ImageNet batch;
# - input size, width: a VGG-16 at --input-size 1024 (its flatten head) or
#   at --width 4 already has about 2.2 billion parameters (8.7 GB of
#   float32, 26 GB with Adam's slots);
# - epochs 100,000 and steps 10 million (FixMatch's schedule is 2**20 steps);
# - labelled images per class 10 million, classes 100,000 (ImageNet-21k has
#   21,841); seeds below 2**31 (numpy takes < 2**32, kzoo adds offsets);
# - ratio 256 (FixMatch's mu is 7), rounds 100, trials 1,000 (the whole
#   default grid is 45 pairs), preview grids 64 x 16 images, RandAugment at
#   most 16 operations per image and magnitudes 0-30.
MAX_BATCH_SIZE = 65_536
MAX_INPUT_SIZE = 1_024
MAX_WIDTH = 4.0
MAX_EPOCHS = 100_000
MAX_STEPS = 10_000_000
MAX_IMAGES_PER_CLASS = 10_000_000
MAX_CLASSES = 100_000
MAX_RATIO = 256
MAX_ROUNDS = 100
MAX_TRIALS = 1_000
MAX_SEED = 2**31 - 1
MAX_PREVIEW_IMAGES = 64
MAX_PREVIEW_DRAWS = 16
MAX_RANDAUGMENT_OPS = 16
MAX_MAGNITUDE = 30  # = kzoo.augment.randaugment.MAX_MAGNITUDE (tests check)


def _parsed(convert, kind):
    def parse(text):
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {kind}, got {_shown(text)}") from None

    return parse


def _shown(value):
    """`value` for a message: its repr, shortened (`_short`)."""
    return _short(repr(value))


def _short(text, limit=60):
    """`text` (as str) for a message, cut in the middle past `limit`
    characters (a flag may be a megabyte long)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:40]}...{text[-12:]} ({len(text):,} characters)"


_integer = _parsed(int, "an integer")
_number = _parsed(float, "a number")


def _checked(parse, within, what, doc, bounds=None):
    """A type: `parse`, then refuse values outside `within` (NaN too).

    `bounds` (e.g. `"at most 65,536"`) is shown in the option's help.
    """

    def check(text):
        value = parse(text)
        if not within(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {_short(text)}")
        return value

    check.__doc__ = doc
    check.bounds = bounds
    return check


def int_in(low, high, doc="An integer."):
    """An integer type refusing values outside `[low, high]`."""
    return _checked(_integer, lambda v: low <= v <= high,
                    f"an integer in [{low}, {high:,}]", doc, f"at most {high:,}")


def float_in(low, high, doc="A number."):
    """A number type refusing values outside `(low, high]` (NaN too)."""
    return _checked(_number, lambda v: low < v <= high,
                    f"a number in ({low:g}, {high:g}]", doc, f"at most {high:g}")


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

batch_size = int_in(1, MAX_BATCH_SIZE, "A global batch size.")
input_size = int_in(1, MAX_INPUT_SIZE, "A square image size in pixels.")
width = float_in(0, MAX_WIDTH, "A filter/unit multiplier.")
epochs = int_in(1, MAX_EPOCHS, "A number of epochs.")
epoch = int_in(0, MAX_EPOCHS, "An epoch index.")
steps = int_in(1, MAX_STEPS, "A number of training steps.")
images_per_class = int_in(1, MAX_IMAGES_PER_CLASS, "Labelled images per class.")
classes = int_in(1, MAX_CLASSES, "A number of classes.")
ratio = int_in(1, MAX_RATIO, "Unlabelled images per labelled image.")
rounds = int_in(1, MAX_ROUNDS, "Self-training rounds.")
trials = int_in(1, MAX_TRIALS, "Search trials.")
seed = int_in(0, MAX_SEED, "A random seed (numpy takes < 2**32).")
preview_images = int_in(1, MAX_PREVIEW_IMAGES, "Rows of a preview grid.")
preview_draws = int_in(1, MAX_PREVIEW_DRAWS, "Augmented columns of a preview.")
port = int_in(0, 65_535, "A TCP port (0: any free one).")
folds = int_in(2, 100, "A number of cross-validation folds.")


class ListType:
    """A list option's type: items from a list, or from text.

    Args:
        item: Checks and converts one item (text -> value); None keeps the
            text (stripped).
        check: Checks the whole list (raising `argparse.ArgumentTypeError`);
            None accepts any.
        paths: Items are file or folder names: a lone command-line value
            naming an existing path is one item, never split (see
            `from_flags`), and items are kept exactly as given (not
            stripped).
        what: What an item is, for messages (`"a name"`).
        bounds: Shown in the option's help.
    """

    def __init__(self, item=None, check=None, paths=False, what="a name",
                 bounds=None):
        self.item = item
        self.check = check
        self.paths = paths
        self.what = what
        self.bounds = bounds

    def __call__(self, text):
        """A comma-separated value: `'a,b, c'` -> items `a`, `b`, `c` (blank
        items dropped). With `paths`, a value naming an existing file or
        folder is that one item."""
        text = str(text)
        if self.paths and os.path.lexists(text):
            return self.from_items([text])
        return self.from_items(text.split(","))

    def from_items(self, items):
        """A list given item by item (a config file's or keyword argument's
        list, repeated flags): no item is split; blank ones are dropped."""
        values = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise argparse.ArgumentTypeError(
                    f"expected a list of {self.what}s (text or numbers), got "
                    f"an item {_shown(item)}")
            text = str(item)
            if not text.strip():
                continue
            if not self.paths:
                text = text.strip()
            values.append(self.item(text) if self.item else text)
        if self.check:
            self.check(values)
        return values

    def from_flags(self, texts):
        """The values of the flag given `len(texts)` times.

        Each of several occurrences is one item, kept whole (`--data a
        --data 'b,c.png'`). A single occurrence is the comma-separated form
        (`--data 'a,b'` is `a` and `b`) unless, for a list of paths, a file
        or folder of exactly that name exists (`--data 'b,c.png'`).
        """
        if len(texts) == 1:
            return self(texts[0])
        return self.from_items(texts)


def _text_checked(check):
    """An item type that checks text with `check` and keeps the text."""

    def parse(text):
        check(text)
        return text

    return parse


def _formats_checked(formats):
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats or len(set(formats)) != len(formats):
        raise argparse.ArgumentTypeError(
            f"expected one or more of {', '.join(EXPORT_FORMATS)}, "
            f"comma-separated, each once, got {','.join(formats)!r}")


def _model_spec(text):
    """'NAME' or 'NAME:WIDTH' with WIDTH a `width` (the name is checked
    against the registry when the run starts)."""
    name, _, value = text.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(
            f"expected NAME or NAME:WIDTH, got {_shown(text)}")
    if value:
        try:
            width(value)
        except argparse.ArgumentTypeError as err:
            raise argparse.ArgumentTypeError(
                f"the WIDTH of {_shown(text)}: {err}") from None
    return text


def _budget(text):
    """A label budget: 'all' or labelled images per class."""
    if text != "all":
        images_per_class(text)
    return text


EXPORT_FORMATS = ("savedmodel", "keras", "litert", "onnx")

name_list = ListType(what="name")
name_list.__doc__ = "'a,b,c' -> ['a', 'b', 'c'] (blank items dropped)."
path_list = ListType(paths=True, what="path")
int_list = ListType(_integer, what="integer")
index_list = ListType(non_negative_int, what="index")
randaugment_ops = ListType(int_in(0, MAX_RANDAUGMENT_OPS), what="integer",
                           bounds=f"each at most {MAX_RANDAUGMENT_OPS}")
magnitudes = ListType(int_in(0, MAX_MAGNITUDE), what="integer",
                      bounds=f"each at most {MAX_MAGNITUDE}")
seed_list = ListType(_text_checked(seed), what="seed",
                     bounds=f"each at most {MAX_SEED:,}")
budget_list = ListType(_budget, what="budget",
                       bounds=f"each 'all' or at most {MAX_IMAGES_PER_CLASS:,}")
model_specs = ListType(_model_spec, what="model",
                       bounds=f"each WIDTH at most {MAX_WIDTH:g}")
export_formats = ListType(check=_formats_checked, what="format")
