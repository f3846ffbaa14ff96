"""Files named on a command line: listed in a stable order, hostile entries
refused unread, streamed as the serving signature decodes them."""

import glob
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import files as file_listing
from kzoo.data.files import FileList, image_dataset, list_files, read_batches
from kzoo.data.images import MAX_IMAGE_PIXELS, NOT_DECODABLE, OVER_PIXEL_LIMIT
from kzoo.errors import DataError
from kzoo.export.saved_model import _decode_batch
from kzoo.testing import write_image
from tests.data.helpers import png_declaring, write_bytes


def _pixels(height, width, channels=3, seed=0):
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def images(tmp_path):
    """A nested folder of PNG and JPEG images of several sizes, gray and RGB."""
    root = tmp_path / "new"
    (root / "sub" / "deep").mkdir(parents=True)
    write_image(root / "top.png", _pixels(16, 16))
    write_image(root / "sub" / "gray.png", _pixels(24, 20, 1, seed=1))
    write_image(root / "sub" / "deep" / "photo.jpg", _pixels(40, 30, seed=2))
    write_image(root / "sub" / "deep" / "small.jpeg", _pixels(9, 12, 1, seed=3))
    write_image(root / "sub" / "alpha.png", _pixels(10, 14, 4, seed=4))
    write_image(root / ".hidden.png", _pixels(8, 8))
    return root


def test_a_folder_is_searched_at_any_depth_in_path_order(images):
    files = list_files([str(images)])
    assert [os.path.relpath(p, images) for p in files.paths] == [
        "sub/alpha.png", "sub/deep/photo.jpg", "sub/deep/small.jpeg",
        "sub/gray.png", "top.png"]  # sorted; the hidden file left out
    assert files.refused == {}


def test_pipes_devices_and_broken_links_are_refused_unread(images):
    os.mkfifo(images / "sub" / "pipe.png")
    os.symlink("/dev/zero", images / "zero.png")
    os.symlink(images / "missing.png", images / "dangling.png")
    os.symlink(images / "sub", images / "loop")
    files = list_files([str(images), str(images / "zero.png")])
    refused = {os.path.relpath(files.paths[i], images): r
               for i, r in files.refused.items()}
    assert refused == {
        "dangling.png": "a broken symbolic link (No such file or directory)",
        "loop": "a symbolic link to a folder (links are not followed)",
        "sub/pipe.png": "not a regular file (a named pipe)",
        "zero.png": "not a regular file (a character device)",
    }
    assert len(files) == 5 + 4  # zero.png, listed twice, is kept once


def test_globs_and_files_in_the_order_given_each_file_once(images):
    files = list_files([str(images / "top.png"), str(images / "**" / "*.jp*g"),
                        str(images / "sub")])
    assert [os.path.relpath(p, images) for p in files.paths] == [
        "top.png", "sub/deep/photo.jpg", "sub/deep/small.jpeg",
        "sub/alpha.png", "sub/gray.png"]


def test_excluded_paths_are_left_out_wherever_found(images):
    (images / "predictions.csv").write_text("path,class_1\n")
    files = list_files([str(images), str(images / "top.png")],
                       exclude=[str(images / "predictions.csv"), "top.png"])
    assert [os.path.basename(p) for p in files.paths] == [
        "alpha.png", "photo.jpg", "small.jpeg", "gray.png", "top.png"]
    files = list_files([str(images)], exclude=[str(images / "top.png")])
    assert "top.png" not in [os.path.basename(p) for p in files.paths]


@pytest.mark.parametrize("spec, expected", [
    ("nothing/here", "No file or folder matches a data item"),
    ("*.nothing", "No file or folder matches a data item"),
    ("empty", "A data item holds no files"),
])
def test_an_item_matching_nothing_is_an_error(tmp_path, monkeypatch, spec, expected):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=expected) as info:
        list_files([spec])
    assert str(info.value).endswith(f"Received: {spec!r}")


@pytest.mark.large
def test_images_equal_what_serving_default_decodes(images):
    files = list_files([str(images)])
    for channels in (1, 3):
        (batch,) = read_batches(files, (12, 10), channels, batch_size=8)
        assert batch.errors == {}
        assert batch.indices.tolist() == list(range(len(files)))
        encoded = tf.constant([open(p, "rb").read() for p in files.paths])
        served = tf.function(_decode_batch)(encoded, (12, 10), channels,
                                            MAX_IMAGE_PIXELS)
        assert batch.images.shape == (5, 12, 10, channels)
        np.testing.assert_array_equal(batch.images, served.numpy())


@pytest.mark.large
def test_every_file_is_accounted_for_once_in_order(images):
    write_bytes(images / "a_corrupt.png", b"\x89PNG\r\n\x1a\n not really")
    write_bytes(images / "sub" / "bomb.png", png_declaring(23000, 23000))
    write_bytes(images / "sub" / "deep" / "truncated.jpg",
                open(images / "sub" / "deep" / "photo.jpg", "rb").read()[:200])
    write_bytes(images / "zz_text.txt", b"hello")
    files = list_files([str(images)])
    batches = list(read_batches(files, (8, 8), 3, batch_size=2))
    seen = [i for b in batches for i in [*b.indices.tolist(), *b.errors]]
    assert sorted(seen) == list(range(len(files))) and len(seen) == len(files)
    assert all(max(a.indices.tolist() + list(a.errors))
               < min(b.indices.tolist() + list(b.errors))
               for a, b in zip(batches, batches[1:]))
    errors = {os.path.relpath(files.paths[i], images): e
              for b in batches for i, e in b.errors.items()}
    assert errors == {
        "a_corrupt.png": NOT_DECODABLE,
        "sub/bomb.png": OVER_PIXEL_LIMIT.format(23000, 23000, MAX_IMAGE_PIXELS),
        "sub/deep/truncated.jpg": NOT_DECODABLE,
        "zz_text.txt": NOT_DECODABLE,
    }
    good = [os.path.relpath(files.paths[i], images)
            for b in batches for i in b.indices]
    assert good == ["sub/alpha.png", "sub/deep/photo.jpg", "sub/deep/small.jpeg",
                    "sub/gray.png", "top.png"]
    two = list(read_batches(files, (8, 8), 3, batch_size=2, max_batches=2))
    assert len(two) == 2 and sum(len(b.indices) for b in two) <= 4


def test_files_are_read_as_the_pipeline_reaches_them(images):
    """The dataset holds paths, not contents: a file changed or removed after
    it is built is read as it is then."""
    files = list_files([str(images)])
    ds = image_dataset(files, (8, 8), 1)
    assert isinstance(ds, tf.data.Dataset)
    assert [s.dtype for s in ds.element_spec] == [tf.int64, tf.float32, tf.int64,
                                                 tf.bool]
    write_image(files.paths[0], np.full((8, 8), 200, np.uint8))  # alpha.png
    os.remove(files.paths[-1])  # top.png
    batch, tail = read_batches(files, (8, 8), 1, batch_size=10)
    np.testing.assert_array_equal(batch.images[0], np.full((8, 8, 1), 200.0))
    assert batch.indices.tolist() == [0, 1, 2, 3]
    assert tail.errors == {4: NOT_DECODABLE} and len(tail.indices) == 0


def test_max_image_pixels_is_the_limit(images):
    files = FileList([str(images / "top.png")], {})
    (ok,) = read_batches(files, (8, 8), 3, 1, max_image_pixels=16 * 16)
    (over,) = read_batches(files, (8, 8), 3, 1, max_image_pixels=16 * 16 - 1)
    assert ok.errors == {} and len(ok.indices) == 1
    assert over.errors == {0: OVER_PIXEL_LIMIT.format(16, 16, 255)}
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        next(read_batches(files, (8, 8), 3, 0))


# In a child with a deadline and a memory cap: reading a named pipe blocks
# forever and /dev/zero reads until memory runs out, so a regression must
# fail this test, not hang the suite.
_READ_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))
    from kzoo.data.files import list_files, read_batches
    files = list_files(sys.argv[1:])
    result = {"good": [], "errors": {}}
    for batch in read_batches(files, (8, 8), 3, batch_size=2):
        result["good"] += [files.paths[i] for i in batch.indices]
        result["errors"].update((files.paths[i], e) for i, e in batch.errors.items())
    print(json.dumps(result))
""")


@pytest.mark.large
def test_reading_never_blocks_on_a_pipe_or_a_device(images):
    os.mkfifo(images / "sub" / "pipe.png")
    os.symlink("/dev/zero", images / "sub" / "zero.png")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", _READ_SCRIPT, str(images),
         str(images / "sub" / "pipe.png")],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert {os.path.relpath(p, images): e for p, e in out["errors"].items()} == {
        "sub/pipe.png": "not a regular file (a named pipe)",
        "sub/zero.png": "not a regular file (a character device)",
    }
    assert len(out["good"]) == 5


# In a child with a deadline and a memory cap: a glob that follows a link
# to a folder above it repeats the tree without end (two loops: a hang with
# memory growing), which must fail this test, not hang the suite.
_GLOB_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))
    from kzoo.data.files import list_files
    files = list_files(sys.argv[1:])
    print(json.dumps({"paths": files.paths, "refused": files.refused}))
""")


@pytest.mark.large
@pytest.mark.parametrize("loops", [1, 2])
def test_a_recursive_glob_does_not_follow_links_to_folders(tmp_path, loops):
    root = tmp_path / "d"
    for sub in ["", *[f"s{i}" for i in range(9)], "s0/deep"]:
        (root / sub).mkdir(exist_ok=True)
        write_image(root / sub / "x.png", _pixels(4, 4))
    for i in range(loops):
        os.symlink(".", root / f"l{i + 1}")  # d/l1 -> d
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", _GLOB_SCRIPT, str(root / "**" / "x.png"),
         str(root / "s0" / "**")],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert [os.path.relpath(p, root) for p in out["paths"]] == [
        "s0/deep/x.png", "s0/x.png", "s1/x.png", "s2/x.png", "s3/x.png",
        "s4/x.png", "s5/x.png", "s6/x.png", "s7/x.png", "s8/x.png", "x.png"]
    assert out["refused"] == {}


def test_glob_matches_are_what_glob_finds_without_links(images):
    os.symlink(images / "sub", images / "link")
    (images / ".hidden_dir").mkdir()
    write_image(images / ".hidden_dir" / "h.png", _pixels(4, 4))
    for pattern in ("**/*.png", "sub/**", "**/deep/*", "*/**/*.jp*g", "**/**/*.png",
                    "s*/**/", "**"):
        spec = str(images / pattern)
        # glob also walks `link` (and would loop on a link to a folder above)
        want = {os.path.normpath(p) for p in glob.glob(spec, recursive=True)
                if "link" not in os.path.relpath(p, images).split(os.sep)}
        got = [os.path.normpath(p) for p in file_listing.expand_glob(spec)
               if "link" not in os.path.relpath(p, images).split(os.sep)]
        assert got == sorted(want), pattern
    # a link to a folder a glob matches is refused, as the folder scan does
    files = list_files([str(images / "*")])
    refused = {os.path.relpath(files.paths[i], images): r
               for i, r in files.refused.items()}
    assert refused == {"link": "a symbolic link to a folder (links are not followed)"}


def test_a_name_that_is_not_utf8_is_read_and_shown_escaped(images):
    name = os.fsdecode(b"\xff.png")
    write_image(os.path.join(images, name), _pixels(6, 6))
    write_bytes(os.path.join(images, os.fsdecode(b"bad\xfe.txt")), b"text")
    files = list_files([str(images)])
    shown = [os.path.relpath(p, images) for p in files.paths]
    assert all(p.encode("utf-8") for p in files.paths)  # printable, writable
    good, bad = shown.index("\\xff.png"), shown.index("bad\\xfe.txt")
    assert files.read_paths[good] == os.fsencode(os.path.join(images, name))
    batches = list(read_batches(files, (8, 8), 3, batch_size=4))
    read = sorted(i for b in batches for i in b.indices)
    assert good in read and read == sorted(set(range(7)) - {bad})
    assert {i: e for b in batches for i, e in b.errors.items()} == {
        bad: NOT_DECODABLE}
