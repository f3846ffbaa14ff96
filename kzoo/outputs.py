"""How kzoo writes into a user's folders: atomically, under a lock, and
deleting only what it can prove it wrote.

- `atomic_path(path)`: write to a unique temporary file beside `path`
  (created exclusively, so a planted symlink is never followed) and rename it
  over `path` only once it is complete. A kill mid-write leaves the previous
  file intact, and the temporary file is named after its host and process
  (`.<name>.<host>-<pid>-<32 hex>.tmp<ext>`), so that the next write of
  `path` removes the one a dead process left. A new file gets the
  permissions of any new file (0666 less the umask), not the 0600 of
  `tempfile.mkstemp`; a replaced regular file keeps its own.
- `write_json(path, data)`: the same for JSON.
- `user_file(path)`: open a file a user named (`--out`) for writing, as the
  shell's `>` would, but never leaving half a file: a named pipe, a device
  (`/dev/null`) or this process's own output (`/dev/stdout`) is written to;
  a regular file is replaced atomically, keeping its permissions.
  `check_user_file(path)` says up front (a `KzooError`) why it could not be.
- `check_output_folder(path)`: the same for a folder a command writes into.
- `OutputLock`: one run per output folder at a time (`flock`, released by
  the kernel when the process dies, so a killed run never leaves a stale
  lock).

A write that fails (a read-only file system, no permission, a full disk) is
a `KzooError` naming the file, and leaves nothing partial behind.
"""

import contextlib
import errno
import json
import os
import re
import socket
import stat
import sys
import uuid

from kzoo.errors import KzooError

LOCK_FILE = ".kzoo.lock"
# Extensions kept on a temporary file (Keras checks `.keras`, `.weights.h5`).
_LONG_SUFFIXES = (".weights.h5", ".keras")
# A failed write, whichever file the error names (a converter's own
# temporary files fill the same disk).
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
# Characters of the target's name kept in its temporary file's name, so that
# the temporary name stays under the 255 bytes a file name may have.
_NAME_CHARS = 100


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


def process_running(pid):
    """Whether process `pid` exists on this machine (signal 0 checks only)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


# The part of a temporary file's or folder's name that says who made it
# (`temporary_tag`), so that a later writer can tell a killed one's leftovers
# (`orphaned`) from a live writer's or another machine's.
TAG_PATTERN = r"(?P<host>.+)-(?P<pid>[0-9]+)-[0-9a-f]{32}"


def temporary_tag():
    """`<host>-<pid>-<32 hex>`: unique, and names this host and process."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"


def orphaned(match):
    """Whether a `TAG_PATTERN` match names a process of this host that has
    ended."""
    return (match["host"] == socket.gethostname()
            and not process_running(int(match["pid"])))


def _temporary_parts(path):
    """`(folder, prefix, suffix)` of the temporary files of `path`."""
    directory, name = os.path.split(os.path.abspath(path))
    suffix = next((s for s in _LONG_SUFFIXES if name.endswith(s)),
                  os.path.splitext(name)[1])
    return directory, f".{name[:_NAME_CHARS]}.", f".tmp{suffix}"


def remove_orphans(path):
    """Remove the temporary files of `path` that `atomic_path` calls of dead
    processes left (a kill mid-write: SIGKILL, out of memory, power loss).

    An orphan is named like kzoo's temporary files of `path`, by this host
    and a process that is no longer running; another machine's (a shared
    file system) and a live process's are kept, and so is anything that is
    not a regular file.
    """
    directory, prefix, suffix = _temporary_parts(path)
    pattern = re.compile(re.escape(prefix) + TAG_PATTERN + re.escape(suffix))
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if (match and orphaned(match)
                    and entry.is_file(follow_symlinks=False)):
                with contextlib.suppress(OSError):
                    os.remove(entry.path)


def write_error(path, err, received=None, partial=False, what=None):
    """A `KzooError` for an `OSError` met writing `path`, naming the file
    (`received`: what named it, e.g. `"--out x.csv"`; `partial`: written in
    place, so what was written before the error stays; `what`: how to name
    it, if not by its path)."""
    reason = err.strerror or str(err)
    if err.filename and not _is_temporary(path, err.filename) and (
            os.path.abspath(str(err.filename)) != os.path.abspath(path)):
        reason += f" ({err.filename})"
    code = errno.errorcode.get(err.errno)
    return KzooError(
        f"Cannot write {what or path}: {reason}" + (f" [{code}]" if code else "")
        + ("" if partial else "; nothing partial was left")
        + ". Expected a writable file system with free space. Received: "
        + (received or f"path={path!r}"))


def _is_temporary(path, filename):
    _, prefix, suffix = _temporary_parts(path)
    name = os.path.basename(str(filename))
    return name.startswith(prefix) and name.endswith(suffix)


def _about(err, *paths):
    """Whether an `OSError` is about writing one of `paths`: it names one of
    them, or no file (`write(2)`, e.g. on a full disk)."""
    return err.filename is None or os.path.abspath(str(err.filename)) in {
        os.path.abspath(p) for p in paths}


@contextlib.contextmanager
def atomic_path(path, received=None):
    """Yield a temporary path beside `path`; rename it over `path` on success.

    The temporary file keeps `path`'s extension (Keras checks `.keras` and
    `.weights.h5`), is created exclusively with a unique name that says which
    host and process made it (`remove_orphans` removes a dead process's, and
    runs first), and is removed if the body raises. A regular file replaced
    keeps its permission bits (and, where this process may set it, its
    owner); a new file gets `file_mode()`.

    Raises:
        KzooError: An `OSError` writing the file (read-only file system, no
            permission, a full disk): the message names `path` (and
            `received`, what named it, e.g. `"--out model.keras"`).
    """
    remove_orphans(path)
    directory, prefix, suffix = _temporary_parts(path)
    tmp = os.path.join(directory, f"{prefix}{temporary_tag()}{suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield tmp
        _copy_permissions(path, tmp)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(err, OSError) and (_about(err, path, tmp)
                                         or err.errno in _WRITE_ERRNOS):
            raise write_error(path, err, received) from err
        raise


def _copy_permissions(path, tmp):
    """Give `tmp` the mode (and owner) of the regular file at `path`, or a new
    file's mode."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        os.chmod(tmp, file_mode())
        return
    if (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):  # a user may only keep the group
            os.chown(tmp, info.st_uid, info.st_gid)
        with contextlib.suppress(OSError):
            os.chown(tmp, -1, info.st_gid)
    os.chmod(tmp, stat.S_IMODE(info.st_mode))


def write_json(path, data):
    """Write `data` as indented JSON, replacing `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        write_json_to(f, data)


def write_json_to(f, data):
    """Write `data` as indented JSON (keys sorted, a final newline) to the
    open text file `f`."""
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")


def save_keras(model, path):
    """`model.save(path)` (a `.keras` file), replacing `path` atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)


# `/proc/<pid>/fd/<n>` (also under `task/<tid>/`): an open file, not a path.
_FD_LINK = re.compile(r"/proc/(?P<pid>[0-9]+)(?:/task/[0-9]+)?/fd/(?P<fd>[0-9]+)")


def _descriptor(path):
    """The descriptor when `path` names an open file of this process
    (`/dev/stdout`, `/dev/fd/3`, `/proc/self/fd/1`), else None."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's limit on links followed
        head, tail = os.path.split(current)
        current = os.path.join(os.path.realpath(head), tail)
        match = _FD_LINK.fullmatch(current)
        if match:
            return int(match["fd"]) if int(match["pid"]) == os.getpid() else None
        if not os.path.islink(current):
            return None
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return None


def _kind(mode):
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def _refuse(what, option, path, expected):
    return KzooError(f"Cannot write {option} {path}: {what}. Expected {expected}. "
                     f"Received: {option} {path}")


def _unwritable(path):
    """Why this process may not write `path` (a file, or a folder's entries),
    or None. `os.access` says EROFS even to root, who passes every
    permission check."""
    if os.access(path, os.W_OK | (os.X_OK if os.path.isdir(path) else 0)):
        return None
    with contextlib.suppress(OSError):
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
    return "not writable by this user"


def _existing(path):
    """`os.stat(path)` (links followed), or None when nothing is there."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def check_user_file(path, option="--out", make_folders=False):
    """Raise a `KzooError` now if `user_file(path)` could not write `path`.

    Refused: a folder, a block device or a socket; a symbolic link to
    nothing; a file or pipe this user may not write; a new or regular file
    whose folder is missing (unless `make_folders`: then the nearest
    existing one), read-only or not this user's to write.
    """
    path = os.fspath(path)
    fd = _descriptor(path)
    if fd is not None:
        try:
            os.fstat(fd)
        except OSError:
            raise _refuse(f"descriptor {fd} is not open", option, path,
                          "an open descriptor, a file or a pipe") from None
        return
    try:
        info = _existing(path)
    except OSError as err:  # a folder on the way not searchable, a link loop
        raise _refuse(err.strerror, option, path, "a path this user may "
                      "reach") from None
    if info is None and os.path.islink(path):
        raise _refuse(f"it is a symbolic link to {os.readlink(path)}, which does "
                      "not exist", option, path, "a file, or a link to one")
    if info is not None and not (stat.S_ISREG(info.st_mode)
                                 or stat.S_ISFIFO(info.st_mode)
                                 or stat.S_ISCHR(info.st_mode)):
        raise _refuse(f"it is {_kind(info.st_mode)}", option, path,
                      "a file, a named pipe or a character device")
    if info is not None:
        reason = _unwritable(path)
        if reason:
            raise _refuse(f"it is {reason}", option, path, "a file this user "
                          "may write")
        if not stat.S_ISREG(info.st_mode):
            return  # written in place
    folder = os.path.dirname(os.path.realpath(path) if info else path)
    _check_folder(folder or os.curdir, option, path, make_folders)


def _check_folder(folder, option, path, make_folders):
    """The folder a file is created in (`folder` as given: `sub/../x` needs
    `sub`, as the kernel resolves it) must be a folder this user may write."""
    if not os.path.isdir(folder):
        if not make_folders:
            state = "is not a folder" if os.path.lexists(folder) else (
                "does not exist")
            raise KzooError(f"The folder of {option} must exist: {folder} "
                            f"{state}. Received: {option} {path}")
        folder = os.path.abspath(folder)
        while not os.path.lexists(folder):
            folder = os.path.dirname(folder)
        if not os.path.isdir(folder):
            raise _refuse(f"{folder} is not a folder", option, path,
                          "a path whose folders are folders")
    reason = _unwritable(folder)
    if reason:
        raise _refuse(f"its folder {folder} is {reason}", option, path,
                      "a folder this user may write to")


def check_csv_with_sheet(out, data):
    """Check --out, a CSV written with a contact sheet beside it (the same
    name, `.png`): both writable, neither inside the folder --data.

    Returns:
        The sheet's path.

    Raises:
        KzooError: Not writable, not a .csv name, or inside --data.
    """
    check_user_file(out, "--out")
    sheet = os.path.splitext(out)[0] + ".png"
    if os.path.abspath(sheet) == os.path.abspath(out):
        raise KzooError("--out is the CSV; the contact sheet goes beside it as "
                        f".png. Expected a .csv name. Received: --out {out}")
    check_outside(out, data, "--out")
    check_user_file(sheet, "--out (its contact sheet)")
    return sheet


def check_outside(out, data, option="--out"):
    """Refuse a file `out` inside the folder `data` (`--data`): written
    there (and the contact sheet beside it) it would become one of the
    images read (or replace one).

    Raises:
        KzooError: Saying where to write instead.
    """
    if not os.path.isdir(data):
        return
    root = os.path.realpath(data)
    where = os.path.realpath(os.path.dirname(os.path.abspath(out)))
    if where == root or where.startswith(root + os.sep):
        raise KzooError(
            f"{option} is inside --data {data}: the contact sheet beside it "
            "would become one of the images to read (or replace one). "
            f"Expected a file outside the folder. Received: {option} {out}")


def check_output_folder(path, option="--out"):
    """Raise a `KzooError` now if files cannot be written into folder `path`
    (made if missing, in an existing folder): it is a file, its parent is
    missing, or it (or the parent it would be made in) is read-only or not
    this user's to write."""
    path = os.path.abspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        info = _existing(path)
        what = "a file" if info and stat.S_ISREG(info.st_mode) else (
            _kind(info.st_mode) if info else "a symbolic link to nothing")
        raise _refuse(f"it is {what}, not a folder", option, path,
                      "a folder (made if missing)")
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    if not os.path.isdir(folder):
        raise KzooError(f"The folder of {option} does not exist: {folder}. "
                        f"Received: {option} {path}")
    reason = _unwritable(folder)
    if reason:
        raise _refuse(f"{folder} is {reason}", option, path,
                      "a folder this user may write to")


@contextlib.contextmanager
def user_file(path, mode="w", newline=None, option="--out"):
    """Open `path`, a file a user named, for writing; yield the file object.

    What is at `path` decides how:

    - a named pipe or a character device (`/dev/null`, a terminal): opened
      and written in place, as the shell's `>` does, never replaced;
    - an open file of this process (`/dev/stdout`, `/dev/fd/N`): written
      through that descriptor, after what the process printed there;
    - a regular file: written beside it and renamed over it once complete
      (`atomic_path`), keeping its permission bits; through a symbolic
      link, the file it points to is replaced and the link kept. Hard links
      to the old file keep the old contents;
    - nothing: created the same way, with a new file's permissions.

    A text stream written in place is line-buffered, so that its lines and
    what the process prints to the same terminal or pipe do not interleave.

    Raises:
        KzooError: What `check_user_file` refuses, or an `OSError` writing
            (a full disk, a read-only file system, a reader gone): the
            message names `option` and `path`.
    """
    path = os.fspath(path)
    check_user_file(path, option)
    received = f"{option} {path}"
    fd = _descriptor(path)
    info = _existing(path) if fd is None else None
    if fd is None and (info is None or stat.S_ISREG(info.st_mode)):
        # Where the kernel would put it: the folder's links resolved, its
        # `..` after them (`check_user_file` found the folder).
        target = os.path.realpath(path) if info else os.path.join(
            os.path.realpath(os.path.dirname(path) or os.curdir),
            os.path.basename(path))
        with atomic_path(target, received) as tmp, open(
                tmp, mode, newline=newline) as f:
            yield f
        return
    buffering = -1 if "b" in mode else 1
    try:
        if fd is not None:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            f = os.fdopen(os.dup(fd), mode, buffering, newline=newline)
        else:
            f = open(path, mode, buffering, newline=newline)  # noqa: SIM115
        with f:
            yield f
    except OSError as err:
        if not _about(err, path):
            raise
        raise write_error(path, err, received, partial=True) from err


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


# A CSV cell beginning with one of these is run as a formula by a
# spreadsheet (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A value as a CSV cell: `""` for None, text that a spreadsheet would
    run as a formula (`FORMULA_STARTS`) behind a `'`, the rest as it is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
