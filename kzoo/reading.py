"""Reading a user's small text files (config files, a run's records)
without trusting them: regular files only, read up to a bound."""

import os
import stat

from kzoo.errors import KzooError


def read_text(path, limit, what="file"):
    """The UTF-8 text of the regular file `path`, read up to `limit` bytes.

    Only `limit + 1` bytes are ever read: a larger file, or one that is not
    a regular file (a folder, `/dev/zero`, a pipe), is refused without
    reading more.

    Raises:
        KzooError: Naming `what`, `path` and, for size, `limit`.
    """
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise KzooError(f"Cannot read {what} {path}: "
                        f"{err.strerror or err}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
            raise KzooError(
                f"Cannot read {what} {path}: it is {kind}, not a regular file "
                f"(expected a file of at most {limit:,} bytes).")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise KzooError(f"Cannot read {what} {path}: "
                        f"{err.strerror or err}.") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise KzooError(f"The {what} {path} is larger than the limit of "
                        f"{limit:,} bytes; refused.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise KzooError(f"The {what} {path} is not UTF-8 text: {err}") from None
