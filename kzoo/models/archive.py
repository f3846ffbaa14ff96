"""A user's `.keras` file, checked before Keras reads it.

A `.keras` file is a zip archive that Keras reads member by member
(`config.json` and `metadata.json` whole, the weights whole when memory
allows). `check_keras_archive` bounds the sizes its members declare, their
compression ratio and their number before anything is decompressed, so a
few-MB file cannot make kzoo allocate gigabytes; `load_keras_file` checks,
then loads, and names the file in every error.
"""

import os
import struct
import zipfile

import keras

from kzoo.errors import KzooError

# Limits of a `.keras` archive (see `check_keras_archive`). A kzoo model's
# config.json takes 10-100 kB and its metadata.json under 1 kB; the largest
# model the run options allow (a VGG-16 at --width 4) has 8.6 GB of weights.
KERAS_MEMBER_MAX_BYTES = {"config.json": 32 << 20, "metadata.json": 1 << 20}
KERAS_ARCHIVE_MAX_BYTES = 32 << 30  # all members, uncompressed
KERAS_MAX_MEMBERS = 1_000
KERAS_DIRECTORY_MAX_BYTES = 1 << 20  # the zip's list of members
# Keras stores members uncompressed (ratio 1); DEFLATE of real weights gains
# little. A member over the floor expanding more than this is refused.
KERAS_MAX_RATIO = 100
_RATIO_FLOOR_BYTES = 1 << 20


def load_keras_file(path):
    """`keras.models.load_model` of a user's `.keras` file, checked first
    (`check_keras_archive`).

    Raises:
        KzooError: Naming `path`: the archive is refused, or Keras cannot
            load it (the first line of its error).
    """
    check_keras_archive(path)
    try:
        return keras.models.load_model(path)
    except KzooError:
        raise
    except RecursionError:
        raise KzooError(f"Cannot load the Keras model {path}: its config.json "
                        "is nested too deeply.") from None
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as err:
        text = str(err).strip()
        first = text.splitlines()[0] if text else type(err).__name__
        raise KzooError(f"Cannot load the Keras model {path}: {first}") from None


def check_keras_archive(path):
    """Refuse a `.keras` file whose members Keras should not read.

    Checked before anything is decompressed: the zip's list of members
    (at most `KERAS_DIRECTORY_MAX_BYTES`, `KERAS_MAX_MEMBERS` members), the
    uncompressed size each member declares (`config.json`, `metadata.json`:
    `KERAS_MEMBER_MAX_BYTES`; all together: `KERAS_ARCHIVE_MAX_BYTES`) and
    each member's compression ratio (at most `KERAS_MAX_RATIO` for members
    over 1 MiB). Reading a member never yields more than it declares.

    Raises:
        KzooError: One line naming `path` and the limit.
    """
    def refuse(why):
        raise KzooError(f"Refusing the Keras model file {path}: {why}.")

    try:
        with open(path, "rb") as f:
            entries, directory = _zip_directory(f)
    except OSError as err:
        raise KzooError(f"Cannot read the Keras model file {path}: "
                        f"{err.strerror or err}.") from None
    except ValueError as err:
        refuse(f"not a zip archive, as a .keras file is ({err})")
    if entries > KERAS_MAX_MEMBERS or directory > KERAS_DIRECTORY_MAX_BYTES:
        refuse(f"it lists {entries:,} members in {directory:,} bytes (a Keras "
               f"model has a few; at most {KERAS_MAX_MEMBERS:,} members in "
               f"{KERAS_DIRECTORY_MAX_BYTES:,} bytes)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        refuse(f"not a readable zip archive ({err})")
    if len(members) > KERAS_MAX_MEMBERS:
        refuse(f"it has {len(members):,} members (at most {KERAS_MAX_MEMBERS:,})")
    total = 0
    for member in members:
        declared = member.file_size
        limit = KERAS_MEMBER_MAX_BYTES.get(member.filename)
        if limit is not None and declared > limit:
            refuse(f"its {member.filename} declares {declared:,} bytes (at most "
                   f"{limit:,})")
        if (declared > _RATIO_FLOOR_BYTES
                and declared > KERAS_MAX_RATIO * max(member.compress_size, 1)):
            refuse(f"its {member.filename} declares {declared:,} bytes stored in "
                   f"{member.compress_size:,} (a compression ratio over "
                   f"{KERAS_MAX_RATIO})")
        total += declared
    if total > KERAS_ARCHIVE_MAX_BYTES:
        refuse(f"its members declare {total:,} bytes together (at most "
               f"{KERAS_ARCHIVE_MAX_BYTES:,})")


_END = b"PK\x05\x06"  # end of central directory record
_END_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"


def _zip_directory(f):
    """`(members, bytes)` the zip in the open file `f` declares for its
    central directory, read from its end records only (zip64 included).

    Raises:
        ValueError: No end record: not a zip archive.
    """
    size = f.seek(0, os.SEEK_END)
    tail_size = min(size, _END_SIZE + 0xFFFF)  # the record and its comment
    f.seek(size - tail_size)
    tail = f.read(tail_size)
    at = tail.rfind(_END)
    if at < 0 or len(tail) - at < _END_SIZE:
        raise ValueError("no end-of-archive record")
    entries, directory, offset = struct.unpack("<HII", tail[at + 10:at + 20])
    if entries != 0xFFFF and 0xFFFFFFFF not in (directory, offset):
        return entries, directory
    locator = tail[at - 20:at] if at >= 20 else b""
    if not locator.startswith(_ZIP64_LOCATOR):
        raise ValueError("a zip64 archive without its zip64 locator")
    (end64,) = struct.unpack("<Q", locator[8:16])
    f.seek(end64)
    record = f.read(56)
    if len(record) < 56 or not record.startswith(_ZIP64_END):
        raise ValueError("a zip64 archive without its zip64 end record")
    entries, directory = struct.unpack("<QQ", record[32:48])
    return entries, directory
