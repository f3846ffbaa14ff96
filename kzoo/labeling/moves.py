"""Moving, copying and putting back one image file, never over another.

Every function here is safe to run again after a kill at any point: it
looks at what is on disk and does only what is left.
"""

import contextlib
import filecmp
import os
import shutil


def identity(path):
    """`[inode, size, mtime_ns]` of `path` itself (a link not followed), or
    None where nothing is: what a half-done move is checked against before
    it is finished."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def free_name(folder, name):
    """`folder/name`, or `name` with -1, -2, ... when that is taken."""
    stem, ext = os.path.splitext(name)
    candidate, n = os.path.join(folder, name), 0
    while os.path.lexists(candidate):
        n += 1
        candidate = os.path.join(folder, f"{stem}-{n}{ext}")
    return candidate


def place(source, target, copy):
    """Put `source` at `target` without ever replacing a file there: a hard
    link of the file itself (a symbolic link stays one; atomic, refused
    when the name is taken), or a copy beside the target under a hidden
    name, linked into place; then, for a move, the source is removed.

    Raises:
        OSError: `target` exists (`FileExistsError`), or the disk refused.
    """
    if not copy:
        try:
            os.link(source, target, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError:  # another file system, or no hard links here
            _copy_into_place(source, target)
        os.unlink(source)
        return
    _copy_into_place(source, target)


def _copy_into_place(source, target):
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.kzoo-partial")
    shutil.copy2(source, tmp)
    try:
        os.link(tmp, target)
    finally:
        os.unlink(tmp)


def done(action, source, target):
    """Whether `action` (`label`: moved, `copy`) from `source` to `target`
    is complete on disk."""
    if action == "copy":
        return os.path.lexists(target)
    return os.path.lexists(target) and not os.path.lexists(source)


def finish(action, source, target, was):
    """Do what is left of `action` after a kill: the image at `target` and,
    for a move, gone from `source`; only while `source` is still the file
    it was (`was`: its `identity`) or is the same file as `target`."""
    if action == "keep":
        return
    if not os.path.lexists(target):
        if os.path.lexists(source) and identity(source) == was:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            place(source, target, copy=action == "copy")
    elif action == "label" and os.path.lexists(source) and same(source, target):
        os.unlink(source)


def take_back(action, source, target):
    """Reverse `action` (or what is left of reversing it): a moved image
    back at `source`; a copy deleted, but only while it is the same bytes
    as its original (an edited copy is the user's)."""
    if action == "copy":
        if os.path.lexists(target) and same_bytes(source, target):
            os.unlink(target)
    elif action == "label":
        if not os.path.lexists(source) and os.path.lexists(target):
            os.makedirs(os.path.dirname(source), exist_ok=True)
            place(target, source, copy=False)
        elif os.path.lexists(target) and same(source, target):
            os.unlink(target)


def same_bytes(a, b):
    """Whether the files `a` and `b` hold the same bytes."""
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def same(a, b):
    """Whether `a` and `b` are one file (a link not followed)."""
    with contextlib.suppress(OSError):
        x, y = os.lstat(a), os.lstat(b)
        return (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino)
    return False
