"""Hand-made hostile files for the data and export tests."""

import contextlib
import errno
import os
import struct
import zlib


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(height, width):
    """PNG bytes whose header declares `height x width` gray pixels.

    Only the first row of zeros follows (a few hundred bytes in all): enough
    for a decoder to allocate the whole image before it notices.
    """
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    first_row = zlib.compress(b"\0" * (1 + width))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", first_row))


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


@contextlib.contextmanager
def unreadable(monkeypatch, path):
    """Make the folder `path` unreadable, even to root.

    `chmod 000` does not stop root (the tests' user here), so `os.scandir`
    and `os.listdir` are also made to fail on `path` the way they do for a
    user without permission.
    """
    path = os.path.abspath(path)
    real_scandir, real_listdir = os.scandir, os.listdir

    def denied(real):
        def call(target=".", *args):
            if os.path.abspath(os.fsdecode(target)) == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), target)
            return real(target, *args)

        return call

    mode = os.stat(path).st_mode
    os.chmod(path, 0)
    monkeypatch.setattr(os, "scandir", denied(real_scandir))
    monkeypatch.setattr(os, "listdir", denied(real_listdir))
    try:
        yield path
    finally:
        monkeypatch.setattr(os, "scandir", real_scandir)
        monkeypatch.setattr(os, "listdir", real_listdir)
        os.chmod(path, mode)
