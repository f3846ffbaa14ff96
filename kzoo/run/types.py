"""Option types: text -> checked value (an `argparse` type, and the check
config files and keyword arguments pass through too)."""

import argparse


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
    """A type: `parse`, then refuse values outside `within` (NaN too)."""

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


def int_list(text):
    """'1,2,3' -> [1, 2, 3]."""
    return [_integer(item) for item in name_list(text)]


EXPORT_FORMATS = ("savedmodel", "keras", "litert", "onnx")


def export_formats(text):
    """'savedmodel,litert' -> ['savedmodel', 'litert'], each one of
    `EXPORT_FORMATS`, none twice, at least one."""
    formats = name_list(text)
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats or len(set(formats)) != len(formats):
        raise argparse.ArgumentTypeError(
            f"expected one or more of {', '.join(EXPORT_FORMATS)}, "
            f"comma-separated, each once, got {text!r}")
    return formats
