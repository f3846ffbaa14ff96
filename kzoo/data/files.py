"""Image files named on a command line, streamed as model inputs.

`list_files(specs)` turns folders (searched at any depth), files and globs
into one ordered `FileList`, refusing without reading them the entries that
must not be read (named pipes, devices, broken links, files too large for an
image within the pixel limit), as the folder scan of `kzoo.data.sources`
does. `read_batches(files, ...)` streams the rest through a `tf.data`
pipeline over the paths: each file is read, its header checked
(`images.declared_size`), and only an image within the pixel limit is
decoded and resized exactly as the SavedModel's `serving_default` does
(`images.decode`, then `images.to_model_input`). Memory does not grow with
the number of files: only the list of paths is held.
"""

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf

from kzoo.data import images
from kzoo.data.items import display_path, path_bytes
from kzoo.data.sources import LINKED_FOLDER, FileScan
from kzoo.errors import DataError

AUTOTUNE = tf.data.AUTOTUNE
RECURSIVE = "**"


@dataclasses.dataclass
class FileList:
    """Files to read, in a stable order.

    Attributes:
        paths: Every file found, as given or joined to its folder or glob,
            as printable text: a name that is not UTF-8 shows its bytes as
            `\\xNN` escapes (`items.display_path`), so it can be printed
            and written as it is.
        refused: `{index in paths: reason}` of the entries the listing
            refused (never opened).
        read_paths: The file system's bytes of each path, what is read;
            by default the paths' own (`os.fsencode`).
    """

    paths: list
    refused: dict
    read_paths: list = None

    def __post_init__(self):
        if self.read_paths is None:
            self.read_paths = path_bytes(self.paths)

    def __len__(self):
        return len(self.paths)


@dataclasses.dataclass
class FileBatch:
    """One batch of `read_batches`.

    Attributes:
        indices: int64 `[n]` indices (into `FileList.paths`) of the images.
        images: float32 `[n, height, width, channels]` model inputs.
        errors: `{index: reason}` of the files between the previous batch and
            this one that were not read, not decoded or refused.
    """

    indices: np.ndarray
    images: np.ndarray
    errors: dict


def list_files(specs, max_image_pixels=images.MAX_IMAGE_PIXELS, exclude=()):
    """Every file under `specs`: folders, files or globs.

    A folder is searched at any depth, sorted by path, hidden names left
    out and links to folders not followed; a glob is expanded as
    `glob.glob(recursive=True)` does (sorted), but `**` does not follow
    links to folders either (`expand_glob`); a folder it matches is
    searched as a folder, a link to a folder it matches is refused. A file
    listed twice is kept once, where it first appears. Names that are not
    UTF-8 are read by their bytes and shown escaped (`FileList.paths`).

    Args:
        specs: Folder, file and glob strings.
        max_image_pixels: A file larger than any image of this many pixels
            can be (`images.max_encoded_bytes`) is refused unread.
        exclude: Paths left out wherever they are found (say, the output
            file of an earlier run inside the folder).

    Returns:
        A `FileList`.

    Raises:
        DataError: No specs, or one that matches no file.
    """
    specs = [specs] if isinstance(specs, str) else list(specs or [])
    if not specs:
        raise DataError("Expected at least one folder, file or glob. "
                        f"Received: data={specs!r}")
    paths, refused = [], {}
    seen = {os.path.normpath(os.path.abspath(p)) for p in exclude}
    for spec in specs:
        for path, reason in _entries(spec, max_image_pixels):
            key = os.path.normpath(os.path.abspath(path))
            if key in seen:
                continue
            seen.add(key)
            if reason:
                refused[len(paths)] = reason
            paths.append(path)
    return FileList([display_path(p) for p in paths], refused, path_bytes(paths))


def _entries(spec, max_image_pixels):
    """`(path, reason or None)` of the files `spec` names."""
    if os.path.lexists(spec):
        matches = [spec]
    else:
        matches = expand_glob(spec)
        if not matches:
            raise DataError("No file or folder matches a data item. Expected an "
                            f"existing folder, file or glob. Received: "
                            f"{spec!r}")
    found = []
    for match in matches:
        scan = FileScan(max_image_pixels)
        if match != spec and os.path.islink(match) and os.path.isdir(match):
            found.append((match, LINKED_FOLDER))  # as the folder scan does
        elif os.path.isdir(match):
            readable = scan.files_below(match, on_unreadable=scan.skip_folder)
            found += sorted([(p, None) for p in readable] + list(scan.skipped.items()))
        else:
            found.append((match, scan.not_readable(match)))
    if not found:
        raise DataError("A data item holds no files. Expected a folder with "
                        f"images. Received: {spec!r}")
    return found


def expand_glob(pattern):
    """`glob.glob(pattern, recursive=True)`, sorted, except that `**` never
    descends into a link to a folder (nor into hidden folders, as glob).

    `**` (a whole path component) matches the folder it is in and every
    folder below it; Python's glob also follows links to folders there, so
    a link to a folder above it (`d/l1 -> .`) repeats the tree without end.
    The rest of the pattern keeps glob's meaning.
    """
    parts = pattern.split(os.sep)
    if RECURSIVE not in parts:
        return sorted(glob.glob(pattern, recursive=True))
    cut = parts.index(RECURSIVE)
    prefix = os.sep.join(parts[:cut]) or (os.sep if pattern.startswith(os.sep)
                                          else "")
    bases = [p for p in glob.glob(prefix) if os.path.isdir(p)] if prefix else [""]
    return sorted(set(_below(bases, parts[cut + 1:])))


def _below(bases, rest):
    """Matches of `**/` + `os.sep.join(rest)` in each of `bases`."""
    folders = [f for base in bases for f in _folders_below(base)]
    if not rest:  # `d/**`: the folders, and every entry in them
        return folders + [os.path.join(f, name) for f in folders
                          for name in _names(f)]
    more = rest.index(RECURSIVE) if RECURSIVE in rest else len(rest)
    sub = os.sep.join(rest[:more])
    if sub:
        matches = [m for f in folders
                   for m in glob.glob(os.path.join(glob.escape(f), sub))]
    else:  # `**/**` or a trailing separator
        matches = folders
    if more == len(rest):
        return matches
    return _below([m for m in matches if os.path.isdir(m)], rest[more + 1:])


def _folders_below(base):
    """`base` and every folder below it; hidden names and links to folders
    are left out (never followed)."""
    top = base or os.curdir
    found = [base]
    for dirpath, dirnames, _ in os.walk(top):  # does not follow links
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".")
            and not os.path.islink(os.path.join(dirpath, d)))
        found += [os.path.join(base, os.path.relpath(os.path.join(dirpath, d), top))
                  for d in dirnames]
    return found


def _names(folder):
    try:
        return sorted(n for n in os.listdir(folder or os.curdir)
                      if not n.startswith("."))
    except OSError:
        return []


def image_dataset(files, size, channels, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """A `tf.data.Dataset` of `(index, image, declared, ok)` per readable file.

    Built from the paths (`from_tensor_slices`), never from their contents:
    each file is read when the pipeline reaches it. `declared` is the int64
    `(height, width)` of the header; `ok` says the header is a known format
    within `max_image_pixels`, and only then is the file decoded (else
    `image` is zeros). A file that fails to read or decode drops out
    (`ignore_errors`); `read_batches` names it from the gap in the indices.

    Args:
        files: A `FileList`; its refused entries are left out, never opened.
        size: `(height, width)` of the model input.
        channels: 1 or 3.
        max_image_pixels: The most pixels an image may declare.
    """
    max_pixels = images.check_max_pixels(max_image_pixels)
    size = tuple(int(s) for s in size)
    shape = [*size, channels]
    kept = [i for i in range(len(files)) if i not in files.refused]
    indices = tf.constant(kept, tf.int64)
    paths = tf.constant([files.read_paths[i] for i in kept], tf.string)

    def load(index, path):
        encoded = tf.io.read_file(path)
        declared = images.declared_size(encoded)
        ok = images.within_pixel_limit(declared, max_pixels)
        image = tf.cond(
            ok,
            lambda: images.to_model_input(images.decode(encoded), size, channels),
            lambda: tf.zeros(shape, tf.float32),
        )
        return index, tf.ensure_shape(image, shape), declared, ok

    ds = tf.data.Dataset.from_tensor_slices((indices, paths))
    return ds.map(load, num_parallel_calls=AUTOTUNE).ignore_errors()


def read_batches(files, size, channels, batch_size,
                 max_image_pixels=images.MAX_IMAGE_PIXELS, max_batches=None):
    """Stream `files` as model-input batches, with the reason of every file
    that is not among them.

    Args:
        files: A `FileList`.
        size: `(height, width)` of the model input.
        channels: 1 or 3.
        batch_size: Files a batch (fewer images where files fail).
        max_image_pixels: The most pixels an image may declare.
        max_batches: Stop after this many batches (the files after the last
            one are then neither read nor reported).

    Yields:
        `FileBatch`es in file order; together they account for every file
        (with `max_batches`, every file up to the last batch's).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. "
                         f"Received: batch_size={batch_size!r}")
    ds = image_dataset(files, size, channels, max_image_pixels)
    ds = ds.batch(batch_size).prefetch(1)
    if max_batches is not None:
        ds = ds.take(max_batches)
    limit = images.check_max_pixels(max_image_pixels)
    shape = (0, *size, channels)
    done = 0  # files before this index are accounted for
    for index, pixels, declared, ok in ds.as_numpy_iterator():
        errors = _missing(files, done, index[-1], set(index.tolist()))
        for i, (height, width) in zip(index[~ok], declared[~ok]):
            errors[int(i)] = _refusal(height, width, limit)
        done = int(index[-1]) + 1
        yield FileBatch(index[ok], pixels[ok], dict(sorted(errors.items())))
    if max_batches is None and done < len(files):
        yield FileBatch(np.zeros([0], np.int64), np.zeros(shape, np.float32),
                        _missing(files, done, len(files), set()))


def _missing(files, start, stop, yielded):
    """`{index: reason}` of the files in `[start, stop)` not among `yielded`:
    refused by the listing, or dropped by the pipeline (unreadable or not
    decodable)."""
    return {i: files.refused.get(i, images.NOT_DECODABLE)
            for i in range(start, int(stop)) if i not in yielded}


def _refusal(height, width, max_pixels):
    if height <= 0 or width <= 0:
        return images.NOT_DECODABLE
    return images.OVER_PIXEL_LIMIT.format(height, width, max_pixels)
