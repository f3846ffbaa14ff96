"""`kzoo.outputs`: files a user names are written as they expect (a pipe or
a device written to, a regular file replaced whole with its permissions),
a failed write is one clear error, and a killed write's temporary file is
removed by the next write."""

import errno
import os
import socket
import stat
import subprocess
import sys
import uuid

import pytest

from kzoo import outputs
from kzoo.errors import KzooError
from tests.user_files import (
    character_device,
    dead_pid,
    fake_read_only_file_system,
    read_in_thread,
)


def temporary_name(name, host, pid, suffix):
    return f".{name}.{host}-{pid}-{uuid.uuid4().hex}.tmp{suffix}"


def test_a_named_pipe_is_written_to_and_stays_a_pipe(tmp_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    join = read_in_thread(fifo)
    try:
        with outputs.user_file(fifo) as f:
            f.write("path,class_1\n")
    finally:
        got = join()
    assert got == b"path,class_1\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary file beside it


def test_dev_null_stays_a_character_device(tmp_path):
    null = character_device(tmp_path)  # /dev/null (as root, a node of it)
    with outputs.user_file(null) as f:
        f.write("discarded\n")
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    with outputs.user_file(null, "wb") as f:
        f.write(b"\x89PNG")
    assert stat.S_ISCHR(os.lstat(null).st_mode)


def test_a_regular_file_is_replaced_whole_keeping_its_mode(tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("old\n")
    os.chmod(mine, 0o600)
    inode = os.stat(mine).st_ino
    with outputs.user_file(mine) as f:
        f.write("new\n")
        assert mine.read_text() == "old\n"  # replaced only once complete
    assert mine.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o600
    assert os.stat(mine).st_ino != inode  # renamed over, not truncated
    os.chmod(mine, 0o640)
    outputs.write_json(mine, {"a": 1})  # kzoo's own files keep a user's mode too
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["mine.csv"]


def test_a_new_file_gets_the_mode_of_any_new_file(tmp_path):
    with outputs.user_file(tmp_path / "new.csv") as f:
        f.write("x\n")
    assert stat.S_IMODE(os.stat(tmp_path / "new.csv").st_mode) == outputs.file_mode()


def test_a_symlink_is_written_through_and_kept(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "p.csv"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with outputs.user_file(link) as f:
        f.write("new\n")
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(tmp_path / "real") == ["p.csv"]
    # A link to nothing is refused, not followed to create its target.
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere" / "x.csv")
    with pytest.raises(KzooError, match="symbolic link to .*which does not exist"), \
            outputs.user_file(dangling) as f:
        f.write("x")
    assert not (tmp_path / "nowhere").exists()


def test_an_open_descriptor_is_written_through_after_what_is_there(tmp_path):
    # /dev/stdout is /proc/self/fd/1: the open file, not a path to replace.
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        f.write("printed first\n")
        f.flush()
        inode = os.fstat(f.fileno()).st_ino
        with outputs.user_file(f"/proc/self/fd/{f.fileno()}") as out:
            out.write("path,class_1\n")
        f.write("printed after\n")
    assert log.read_text() == "printed first\npath,class_1\nprinted after\n"
    assert os.stat(log).st_ino == inode
    read, write = os.pipe()
    try:
        with outputs.user_file(f"/dev/fd/{write}", "wb") as out:
            out.write(b"png")
        assert os.read(read, 16) == b"png"
    finally:
        os.close(read)
        os.close(write)


def test_folders_sockets_and_block_devices_are_refused(tmp_path):
    with pytest.raises(KzooError, match="it is a folder"):
        outputs.check_user_file(tmp_path)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(KzooError, match="it is a socket"):
            outputs.check_user_file(tmp_path / "sock")
    finally:
        server.close()
    with pytest.raises(KzooError, match=r"The folder of --out must exist: .*missing"):
        outputs.check_user_file(tmp_path / "missing" / "p.csv")
    (tmp_path / "file").write_text("")
    with pytest.raises(KzooError, match="is not a folder"):
        outputs.check_user_file(tmp_path / "file" / "p.csv")
    # `sub/../p.csv` needs `sub`, as the kernel resolves it
    with pytest.raises(KzooError, match="must exist"):
        outputs.check_user_file(tmp_path / "sub" / ".." / "p.csv")


def test_a_read_only_folder_is_refused_up_front(tmp_path, monkeypatch):
    real_statvfs = os.statvfs
    fake_read_only_file_system(monkeypatch)
    with pytest.raises(KzooError) as caught:
        outputs.check_user_file(tmp_path / "p.csv", "--out")
    assert str(caught.value) == (
        f"Cannot write --out {tmp_path / 'p.csv'}: its folder {tmp_path} is on a "
        "read-only file system. Expected a folder this user may write to. "
        f"Received: --out {tmp_path / 'p.csv'}")
    with pytest.raises(KzooError, match="is on a read-only file system"):
        outputs.check_output_folder(tmp_path / "export")
    monkeypatch.setattr(os, "statvfs", real_statvfs)
    (tmp_path / "p.csv").write_text("")
    with pytest.raises(KzooError, match="it is not writable by this user"):
        outputs.check_user_file(tmp_path / "p.csv", "--out")


def test_a_file_as_an_output_folder_is_refused(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(KzooError, match="it is a file, not a folder"):
        outputs.check_output_folder(tmp_path / "afile")
    with pytest.raises(KzooError, match="The folder of --out does not exist"):
        outputs.check_output_folder(tmp_path / "no" / "out")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failed_write_is_one_error_naming_the_file(tmp_path, code):
    mine = tmp_path / "p.csv"
    mine.write_text("old\n")
    with pytest.raises(KzooError) as caught, outputs.user_file(mine) as f:
        f.write("half")
        raise OSError(code, os.strerror(code))  # what write(2) raised
    message = str(caught.value)
    assert message.startswith(f"Cannot write {mine}: {os.strerror(code)} "
                              f"[{errno.errorcode[code]}]; nothing partial was left")
    assert message.endswith(f"Received: --out {mine}")
    assert mine.read_text() == "old\n" and os.listdir(tmp_path) == ["p.csv"]


def test_a_full_device_is_one_error_naming_it(tmp_path):
    path = character_device(tmp_path, "full")
    full = pytest.raises(KzooError, match=rf"^Cannot write {path}: No space "
                                          r"left on device \[ENOSPC\]\. ")
    with full, outputs.user_file(path) as f:
        f.write("x\n")
    assert stat.S_ISCHR(os.lstat(path).st_mode)


def test_a_dead_process_s_temporary_file_is_removed_by_the_next_write(tmp_path):
    host = socket.gethostname()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        planted = {
            "dead": temporary_name("model.tflite", host, dead_pid(), ".tflite"),
            "live": temporary_name("model.tflite", host, live.pid, ".tflite"),
            "other host": temporary_name("model.tflite", host + "-elsewhere",
                                         dead_pid(), ".tflite"),
            "another file's": temporary_name("m.tflite", host, dead_pid(), ".tflite"),
            "a user's": ".model.tflite.notes.tmp.tflite",
        }
        for name in planted.values():
            (tmp_path / name).write_bytes(b"half")
        with outputs.atomic_path(tmp_path / "model.tflite") as tmp, \
                open(tmp, "wb") as f:
            f.write(b"whole")
        left = set(os.listdir(tmp_path))
        assert planted["dead"] not in left
        assert left == {"model.tflite"} | {v for k, v in planted.items() if k != "dead"}
        # named so that the next write can tell whose it is
        assert os.path.basename(tmp).startswith(f".model.tflite.{host}-{os.getpid()}-")
    finally:
        live.kill()
        live.wait()
