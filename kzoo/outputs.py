"""How kzoo writes into a user's folders: atomically, under a lock, and
deleting only what it can prove it wrote.

- `atomic_path(path)`: write to a unique temporary file beside `path`
  (created exclusively, so a planted symlink is never followed) and rename it
  over `path` only once it is complete. A kill mid-write leaves the previous
  file intact. The result gets the permissions of any new file (0666 less
  the umask), not the 0600 of `tempfile.mkstemp`.
- `write_json(path, data)`: the same for JSON.
- `OutputLock`: one run per output folder at a time (`flock`, released by
  the kernel when the process dies, so a killed run never leaves a stale
  lock).
"""

import contextlib
import json
import os
import tempfile

from kzoo.errors import KzooError

LOCK_FILE = ".kzoo.lock"


def _umask():
    """The process umask, read without changing it where the system says
    (`os.umask` alone would set it to 0 for a moment, for every thread)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode():
    """The mode `open(path, "w")` gives a new file: 0o666 less the umask."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it over `path` on success.

    The temporary file keeps `path`'s extension (Keras checks `.keras` and
    `.weights.h5`), is created exclusively with a unique name, and is removed
    if the body raises.
    """
    directory, name = os.path.split(os.path.abspath(path))
    suffix = next((s for s in (".weights.h5", ".keras") if name.endswith(s)),
                  os.path.splitext(name)[1])
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{suffix}",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_json(path, data):
    """Write `data` as indented JSON, replacing `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")


def save_keras(model, path):
    """`model.save(path)` (a `.keras` file), replacing `path` atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)


class OutputLock:
    """An exclusive lock on an output folder for the life of one run.

    Raises:
        KzooError: Another process holds the folder's lock (the message
            names its process id).
    """

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK_FILE)
        self._fd = None
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # less the umask
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise KzooError(
                f"Another kzoo run (process {owner}) is writing to {folder}; "
                "wait for it to finish or choose another --out."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
