"""Test helpers for the files a user names as --out: named pipes, devices,
dead processes' temporary files."""

import os
import stat
import subprocess
import sys
import threading


def read_in_thread(path):
    """Start reading the named pipe `path` to its end; `join()` returns the
    bytes (whatever happened: a writer that never came is stood in for, so
    the reader never blocks the test run)."""
    got = []

    def read():
        with open(path, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def join():
        reader.join(timeout=60)
        if not got:  # nothing opened the pipe: release the reader
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=30)
        return got[0]

    return join


def character_device(tmp_path, name="null"):
    """`/dev/null` or `/dev/full` to name as --out. As root (who could
    replace the system's, were a regression to rename a file over it) a
    node of the same device made under `tmp_path`; as a user the system's
    own, which a user cannot replace."""
    minor = {"null": 3, "full": 7}[name]
    if os.geteuid() != 0:
        return f"/dev/{name}"
    path = os.path.join(tmp_path, name)
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


def dead_pid():
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def fake_read_only_file_system(monkeypatch):
    """Make every folder look as it does on a read-only mount: what
    `access(2)` and `statvfs(2)` answer there. (Root passes every
    permission check, so a real read-only folder needs a mount.)"""
    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            self.f_flag = real_statvfs(path).f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(os, "statvfs", ReadOnly)
