"""What labelling an image does on disk: `LabelStore`.

A store serves one queue (a `kzoo select` CSV, or a `kzoo audit` CSV to
review) over one data folder `root`:

- `label(path, label)` moves the image (`label`) or copies it (`copy`,
  with `copy=True`) into `root/train/<label>/`, never over another file: a
  name already taken gets `-1`, `-2`, ... before its extension. In a
  review, the given label kept is a `keep` and moves nothing.
- `undo()` reverses the last action on the folder not yet undone (from
  any tab or process): a moved image goes back where it was, a copy is
  deleted (while it is still the same bytes).
- `root/labels.csv` logs every action done (`kzoo.labeling.log`); an action
  is journalled before it starts, so a process killed mid-action leaves it
  for the next store to finish (only while the image is still the file it
  was). Every action and every answer first re-reads the log under a lock
  shared by all processes, so two tabs or two servers on one folder see
  one queue.

Only queue entries are served or moved, and only while they resolve inside
`root`: a path that is absolute or climbs out (`..`) is refused as such
(`LabelError` 400), one not in the queue is 404, and a file whose real path
leaves `root` (a symbolic link out) is 403, checked again at every request.
A log row that names a path outside `root` is not kzoo label's and is
ignored (`problems` says so).
"""

import contextlib
import csv
import datetime
import os
import threading

from kzoo.errors import KzooError
from kzoo.labeling import log, moves
from kzoo.outputs import FORMULA_STARTS

MAX_LABEL_CHARS = 100
REVIEW_FIELDS = ("given", "suggested", "score", "issue")


class LabelError(KzooError):
    """A request the store refuses; `status` is its HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class LabelStore:
    """The queue of images to label and the log of what was done.

    Args:
        root: The data folder (`root/train/<class>/` receives the images).
        queue: The queue CSV: a `path` column (as `kzoo select` and
            `kzoo audit` write it: relative to the current folder, to `root`
            or to the CSV's folder, or absolute inside `root`); an audit's
            `given`, `suggested`, `score` and `issue` columns are kept.
        classes: Class names to offer first (then those of `root/train/`).
        copy: Copy images into `train/<class>/` instead of moving them.
        review: The queue is an audit to review: an image keeps or changes
            the label of the `train/<class>/` folder it is in.

    Raises:
        KzooError: No queue file, no `path` column, a bad class name,
            `copy` with `review` (a relabelled image would stay in both
            classes).
    """

    def __init__(self, root, queue, classes=(), copy=False, review=False):
        if copy and review:
            raise KzooError("A review moves an image between classes; a copy "
                            "would leave it in both. Received: --copy with "
                            "--review")
        self.root = os.path.realpath(root)
        self.copy = copy
        self.review = review
        self.log_path = os.path.join(self.root, log.LOG_FILE)
        self.problems = []  # what opening could not do, for the command to say
        self._lock = threading.Lock()
        rows = _read_queue(queue)
        self._queue_time = os.path.getmtime(queue)
        self.classes = list(dict.fromkeys(
            [check_label(c) for c in classes] + _train_classes(self.root)))
        self._initial = list(self.classes)  # new ones are added in use order
        self._done, self._seen = [], None  # effective actions; log size read
        with self._locked():
            self._finish_pending()
        self.entries, self.refused = self._entries(rows, os.path.dirname(
            os.path.abspath(queue)))

    # What the page asks.

    def pending(self):
        """Queue entries still to label (or review), in queue order."""
        with self._locked():
            return self._pending()

    def state(self):
        """The queue as `GET /api/queue` answers it."""
        with self._locked():
            pending = self._pending()
            last = self._done[-1] if self._done else None
            return {
                "pending": [_public(e) for e in pending],
                "total": len(self.entries),
                "labelled": len(self.entries) - len(pending),
                "classes": list(self.classes),
                "review": self.review,
                "copy": self.copy,
                "last": None if last is None else {
                    "path": last["path"], "label": last["label"],
                    "action": last["action"]},
            }

    def image_file(self, path):
        """The file to serve for queue entry `path`, checked (see the
        module docstring).

        Raises:
            LabelError: 400, 404 or 403.
        """
        entry = self._entry(path)
        return self._inside(entry["file"], path)

    # What the page does.

    def label(self, path, label):
        """Label queue entry `path` as `label` (a new class is created).

        Returns:
            The logged row (`to` is where the image now is).

        Raises:
            LabelError: 400 bad label, 404 not in the queue, 403 outside
                `root`, 409 already labelled or the file is gone, 500 the
                disk refused (nothing is logged).
        """
        label = check_label(label, LabelError)
        with self._locked():
            entry = self._entry(path)
            if self._is_done(entry, self._latest()):
                raise LabelError(409, f"{path} is already labelled (undo it "
                                      "first to change it)")
            source = entry["file"]
            if not os.path.isfile(self._inside(source, path)):
                raise LabelError(409, f"{path} is no longer there")
            if self.review and entry.get("given") == label:
                row = log.row("keep", path, self._rel(source), self._rel(source),
                              label)
                log.append(self.log_path, row)
            else:
                folder = os.path.join(self.root, "train", label)
                os.makedirs(folder, exist_ok=True)
                target = moves.free_name(folder, os.path.basename(source))
                row = log.row("copy" if self.copy else "label", path,
                              self._rel(source), self._rel(target), label)
                self._do(row, lambda: moves.place(source, target, self.copy),
                         identity=moves.identity(source))
            self._done.append(row)
            self._seen = os.path.getsize(self.log_path)
            if label not in self.classes:
                self.classes.append(label)
            return row

    def undo(self):
        """Reverse the last action not yet undone.

        Returns:
            The row undone.

        Raises:
            LabelError: 409 when there is nothing to undo, the image is no
                longer where it was put, or its old place is taken.
        """
        with self._locked():
            if not self._done:
                raise LabelError(409, "nothing to undo")
            row = self._done[-1]
            source, target = self._abs(row["from"]), self._abs(row["to"])
            if row["action"] != "keep" and not os.path.lexists(target):
                raise LabelError(409, f"cannot undo {row['path']}: {row['to']} "
                                      "is no longer there")
            if row["action"] == "label" and os.path.lexists(
                    source) and not moves.same(source, target):
                raise LabelError(409, f"cannot put {row['path']} back: "
                                      f"{row['from']} is taken")
            if row["action"] == "copy" and not moves.same_bytes(source, target):
                raise LabelError(409, f"cannot undo {row['path']}: the copy "
                                      f"{row['to']} was changed since (or its "
                                      "original); it is yours to delete")
            back = log.row("undo", row["path"], row["to"], row["from"],
                           row["label"])
            self._do(back, lambda: moves.take_back(row["action"], source, target),
                     undoes=row["action"])
            self._done.pop()
            self._seen = os.path.getsize(self.log_path)
            self._forget(row["label"])
            return row

    # The log.

    @contextlib.contextmanager
    def _locked(self):
        """This process's threads and every other process, one at a time;
        the log re-read when another changed it."""
        with self._lock, log.locked(self.root):
            self._refresh()
            yield

    def _refresh(self):
        size = os.path.getsize(self.log_path) if os.path.exists(
            self.log_path) else 0
        if size == self._seen:
            return
        self._seen, self._done, ignored = size, [], 0
        for row in log.read(self.log_path):
            if not log.valid(row, check_label):
                ignored += 1
            elif row["action"] != "undo":
                self._done.append(row)
            else:  # the latest action on that path not yet undone
                for k in range(len(self._done) - 1, -1, -1):
                    if self._done[k]["path"] == row["path"]:
                        del self._done[k]
                        break
        for row in self._done:
            if row["label"] not in self.classes:
                self.classes.append(row["label"])
        if ignored:
            self._problem(f"{ignored} rows of {self.log_path} name a path out of "
                          "the folder or an unknown action: ignored")

    def _do(self, row, act, **journal):
        """Journal `row`, do `act`, log `row`, drop the journal; when the
        disk refuses, nothing is logged and the journal goes."""
        log.begin(self.root, row, **journal)
        try:
            act()
        except OSError as err:
            log.end(self.root)
            raise LabelError(500, f"could not {row['action']} {row['path']}: "
                                  f"{err.strerror or err}") from None
        log.append(self.log_path, row)
        log.end(self.root)

    def _finish_pending(self):
        """Finish the action a killed process journalled, if what is on disk
        still fits it; say so when it does not."""
        journal = log.pending(self.root)
        if journal is None:
            return
        row = journal.get("row") or {}
        if not log.valid(row, check_label):
            log.end(self.root)
            return
        source, target = self._abs(row["from"]), self._abs(row["to"])
        try:
            if row["action"] == "undo":
                done = journal.get("undoes")
                moves.take_back(done, target, source)
                complete = done == "keep" or not moves.done(done, target, source)
            else:
                moves.finish(row["action"], source, target, journal.get("identity"))
                complete = row["action"] == "keep" or moves.done(
                    row["action"], source, target)
        except OSError as err:
            complete = False
            self._problem(f"could not finish {row['action']} {row['path']}: {err}")
        if complete:
            log.append(self.log_path, row)
        else:
            self._problem(f"an interrupted {row['action']} of {row['path']} "
                          "could not be finished (the files changed); left as it is")
        log.end(self.root)
        self._refresh()

    def _problem(self, text):
        if text not in self.problems:
            self.problems.append(text)

    def _forget(self, label):
        """After an undo: a class this page created, now with no image and
        no label, leaves the list (its empty folder too: training refuses
        an empty class)."""
        folder = os.path.join(self.root, "train", label)
        if label in self._initial or any(r["label"] == label for r in self._done):
            return
        with contextlib.suppress(OSError):  # not empty: the user's images
            os.rmdir(folder)
        if not os.path.isdir(folder) and label in self.classes:
            self.classes.remove(label)

    # The queue.

    def _pending(self):
        latest = self._latest()
        return [e for e in self.entries.values() if not self._is_done(e, latest)]

    def _latest(self):
        """`{path: the log's latest action on it not undone}`."""
        return {row["path"]: row for row in self._done}

    def _is_done(self, entry, latest):
        """Whether the log's latest action on the entry still holds: a
        moved image is gone from its place (a new file there is new work),
        a copy is still there, a keep was given after the queue was
        written."""
        row = latest.get(entry["path"])
        if row is None:
            return False
        if row["action"] == "label":
            return not os.path.lexists(entry["file"])
        if row["action"] == "copy":
            return os.path.lexists(self._abs(row["to"]))
        given = datetime.datetime.fromisoformat(row["time"]).timestamp()
        return given >= self._queue_time - 1  # the log keeps whole seconds

    def _entries(self, rows, queue_folder):
        """`({path: entry}, [(path, reason)])`: the queue's rows whose file
        is inside the folder (found from the current folder, the data
        folder or the queue's; one labelled earlier, from the log), and the
        rows left out."""
        logged = {r["path"]: self._abs(r["from"]) for r in self._done}
        bases = (os.getcwd(), self.root, queue_folder)
        entries, refused = {}, []
        for row in rows:
            raw = row["path"] or ""
            spellings = list(dict.fromkeys([_uncell(raw), raw]))
            found = [(t, _locate(t, bases, self.root)) for t in spellings]
            text, file = next(((t, f) for t, f in found if f), (spellings[0], None))
            key = self._key(text)
            if file is None and key in logged:
                file = logged[key]
            if file is None:
                refused.append((raw, "not found inside the data folder"))
                continue
            entry = {"path": key, "file": file, "name": os.path.basename(file)}
            entry.update({k: _uncell(row[k]) for k in REVIEW_FIELDS if row.get(k)})
            entries.setdefault(key, entry)
        return entries, refused

    # Paths.

    def _entry(self, path):
        if not isinstance(path, str) or not path or "\0" in path:
            raise LabelError(400, "expected a path from the queue")
        if os.path.isabs(path) or path.startswith("~"):
            raise LabelError(400, f"absolute paths are refused: {path}")
        if ".." in path.replace("\\", "/").split("/"):
            raise LabelError(400, f"paths may not climb out (..): {path}")
        entry = self.entries.get(path)
        if entry is None:
            raise LabelError(404, f"not in the queue: {path}")
        return entry

    def _key(self, text):
        """A queue path as the API names it: as given, or relative to the
        data folder when given absolute."""
        if not os.path.isabs(text):
            return text
        folder = os.path.realpath(os.path.dirname(text))
        return os.path.relpath(os.path.join(folder, os.path.basename(text)),
                               self.root)

    def _inside(self, file, path):
        real = os.path.realpath(file)
        if not real.startswith(self.root + os.sep):
            raise LabelError(403, f"{path} leads out of the data folder")
        return real

    def _rel(self, path):
        return os.path.relpath(path, self.root)

    def _abs(self, rel):
        return os.path.join(self.root, rel)


def check_label(label, error=KzooError):
    """`label` if it can be a class folder's name.

    Raises:
        `error`: Empty, too long, a path separator, starts with '.', or not
            printable.
    """
    ok = (isinstance(label, str) and 0 < len(label) <= MAX_LABEL_CHARS
          and label.isprintable() and not label.startswith(".")
          and "/" not in label and "\\" not in label and label.strip() == label)
    if not ok:
        args = (400,) if error is LabelError else ()
        raise error(*args, "A class name must be 1-100 printable characters, "
                           "no '/', '\\', leading '.' or surrounding spaces. "
                           f"Received: {label!r}")
    return label


def _read_queue(queue):
    """The rows of the queue CSV (each with a `path`).

    Raises:
        KzooError: It cannot be read, or has no `path` column.
    """
    try:
        with open(queue, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise KzooError(f"Cannot read the queue: {getattr(err, 'strerror', err)}. "
                        "Expected a CSV with a 'path' column (kzoo select's "
                        f"--out). Received: --queue {queue}") from None
    if rows and "path" not in rows[0]:
        raise KzooError(f"The queue has no 'path' column. Expected a CSV "
                        f"from kzoo select or kzoo audit. Received: --queue "
                        f"{queue} with columns {sorted(rows[0])}")
    return rows


def _locate(text, bases, root):
    """The queue entry's file (absolute, links unresolved), when one of
    `bases` holds it inside `root` and its real path stays there."""
    if not text or ".." in text.replace("\\", "/").split("/"):
        return None
    for base in bases:
        file = os.path.normpath(os.path.join(base, text))
        inside = os.path.realpath(file).startswith(root + os.sep)
        if os.path.isfile(file) and inside:
            return file
    return None


def _uncell(text):
    """A CSV cell as written by `kzoo.outputs.csv_cell`, its guard removed."""
    guarded = text.startswith("'") and text[1:].startswith(FORMULA_STARTS)
    return text[1:] if guarded else text


def _train_classes(root):
    train = os.path.join(root, "train")
    if not os.path.isdir(train):
        return []
    return sorted(d for d in os.listdir(train) if not d.startswith(".")
                  and os.path.isdir(os.path.join(train, d)))


def _public(entry):
    return {k: v for k, v in entry.items() if k != "file"}
