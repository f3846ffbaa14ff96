"""The labels log, `DATA/labels.csv`, and the action in progress.

Each finished action is one row `time, action, path, from, to, label`
(`from`/`to` relative to the data folder). An action is first written to a
hidden journal (`PENDING_FILE`, with the source file's identity), then
done, then appended to the log, then the journal is removed: the log holds
only what was done, and a process killed mid-action leaves the journal for
the next one to finish. A lock file serialises the actions of every
process serving the same folder.
"""

import contextlib
import csv
import datetime
import io
import json
import os

from kzoo.outputs import write_json

LOG_FILE = "labels.csv"
PENDING_FILE = ".labels-pending.json"
LOCK_FILE = ".labels.lock"
FIELDS = ("time", "action", "path", "from", "to", "label")
ACTIONS = ("label", "copy", "keep", "undo")


def row(action, path, source, target, label):
    """A log row; `source`/`target` already relative to the data folder."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"time": now.isoformat(timespec="seconds"), "action": action,
            "path": path, "from": source, "to": target, "label": label}


def read(path):
    """The rows of a labels log (a torn last line, from a process killed
    mid-write, is left out)."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    rows = csv.DictReader(io.StringIO(text, newline=""))
    return [r for r in rows if None not in r and None not in r.values()
            and set(FIELDS) <= set(r)]


def append(path, data):
    """Append one row, flushed to disk (a header first in a new log)."""
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        table = csv.DictWriter(f, FIELDS)
        if new:
            table.writeheader()
        table.writerow({k: data[k] for k in FIELDS})
        f.flush()
        os.fsync(f.fileno())


def valid(data, check_label):
    """Whether a row can be kzoo label's own: a known action, a class name,
    and paths relative to the data folder that do not climb out of it (a
    log copied in from elsewhere must not move or delete files outside)."""
    if data.get("action") not in ACTIONS:
        return False
    try:
        check_label(data.get("label"))
    except ValueError:
        return False
    return all(_relative(data.get(k)) for k in ("from", "to"))


def _relative(path):
    return (isinstance(path, str) and path and not os.path.isabs(path)
            and ".." not in path.replace("\\", "/").split("/"))


def begin(folder, data, **extra):
    """Write the journal of the action about to be done."""
    write_json(os.path.join(folder, PENDING_FILE), {"row": data, **extra})


def pending(folder):
    """The journal a killed process left, or None (an unreadable one is
    dropped: its action had not started)."""
    path = os.path.join(folder, PENDING_FILE)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        end(folder)
        return None


def end(folder):
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(folder, PENDING_FILE))


@contextlib.contextmanager
def locked(folder):
    """An exclusive lock of the folder's labelling (all processes)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: one process at a time is the user's care
        yield
        return
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
