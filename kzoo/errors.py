"""Exceptions that the `kzoo` command turns into one clear error line."""


class KzooError(ValueError):
    """Base class of the user-facing errors raised by kzoo."""


class DataError(KzooError):
    """A data spec, folder or label budget that cannot be used."""


def shortened(value, limit=200, as_text=False):
    """`repr(value)` (`str` with `as_text`) for a message, cut in the middle
    past `limit` characters (a config value may be megabytes long)."""
    try:
        text = str(value) if as_text else repr(value)
    except RecursionError:
        text = f"<a {type(value).__name__} nested too deeply to show>"
    if len(text) <= limit:
        return text
    return f"{text[:limit - 40]}...{text[-20:]} ({len(text):,} characters)"
