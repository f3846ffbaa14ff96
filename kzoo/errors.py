"""Exceptions that the `kzoo` command turns into one clear error line."""


class KzooError(ValueError):
    """Base class of the user-facing errors raised by kzoo."""


class DataError(KzooError):
    """A data spec, folder or label budget that cannot be used."""
