"""`scan_images`: headers from each file's first bytes, then one decode pass
for what the headers let through; the same verdicts as reading and
decoding each file whole."""

import io
import os
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kzoo.data import images, items
from tests.data.helpers import png_declaring, write_bytes


def _jpeg(height=6, width=9):
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(
        buffer, format="JPEG")
    return buffer.getvalue()


def _with_app_segments(jpeg, total):
    """`jpeg` with APP15 segments of about `total` bytes after its SOI: its
    frame header moves that far in (a big EXIF or ICC profile does this)."""
    segments = b""
    while len(segments) < total:
        payload = b"\0" * 65533
        segments += b"\xff\xef" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segments + jpeg[2:]


def _declaring(jpeg, height, width):
    """`jpeg` with its frame header (SOF0) declaring `height x width`."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[:at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9:]


def _verdict_of_whole_file(path, max_pixels):
    """What the scan must say, from the whole file, one file at a time."""
    try:
        encoded = tf.io.read_file(path)
    except tf.errors.OpError:
        return images.NOT_DECODABLE
    size = images.declared_size(encoded)
    height, width = size.numpy()
    if not images.within_pixel_limit(size, max_pixels):
        return items._refusal(height, width, max_pixels)
    try:
        images.decode(encoded)
    except tf.errors.OpError:
        return images.NOT_DECODABLE
    return None


def test_a_frame_header_beyond_the_first_bytes_is_read_from_the_whole_file(
        tmp_path):
    far = _with_app_segments(_jpeg(), items.HEAD_BYTES + 1000)
    assert far.index(b"\xff\xc0") > items.HEAD_BYTES
    ok = write_bytes(tmp_path / "far.jpg", far)
    bomb = write_bytes(tmp_path / "far_bomb.jpg", _declaring(far, 60000, 60000))
    assert items.scan_images([str(ok), str(bomb)]) == [
        None, images.OVER_PIXEL_LIMIT.format(60000, 60000, images.MAX_IMAGE_PIXELS)]
    np.testing.assert_array_equal(items.declared_sizes([str(ok), str(bomb)]),
                                  [[6, 9], [60000, 60000]])


@pytest.mark.parametrize("scan_batch", [3, items.SCAN_BATCH])
def test_the_scan_agrees_with_each_file_read_and_decoded_whole(
        tmp_path, monkeypatch, scan_batch):
    monkeypatch.setattr(items, "SCAN_BATCH", scan_batch)
    png = images.encode_png(np.full((5, 4, 3), 7, np.uint8)).numpy()
    jpeg = _jpeg()
    files = {
        "a.png": png, "b.jpg": jpeg, "truncated.png": png[: len(png) // 2],
        "truncated_header.jpg": jpeg[:40], "empty.png": b"", "notes.txt": b"text",
        "bomb.png": png_declaring(20000, 20000),
        "bomb.jpg": _declaring(jpeg, 9000, 9000),
        "long_not_an_image.bin": b"\xff\xd8\xff\xe1" + b"\0" * items.HEAD_BYTES,
    }
    paths = [str(write_bytes(tmp_path / name, data)) for name, data in files.items()]
    paths.append(str(tmp_path / "vanished.png"))  # listed, then removed
    max_pixels = 10_000_000
    want = [_verdict_of_whole_file(p, max_pixels) for p in paths]
    assert want[:2] == [None, None] and want[-1] == images.NOT_DECODABLE
    assert items.scan_images(paths, max_pixels) == want
    assert items.scan_images([], max_pixels) == []


def test_no_file_is_decoded_when_every_header_is_refused(tmp_path, monkeypatch):
    bomb = str(write_bytes(tmp_path / "bomb.png", png_declaring(20000, 20000)))

    def no_decode(encoded):
        raise AssertionError("decoded a file its header refused")

    monkeypatch.setattr(images, "decode", no_decode)
    assert items.scan_images([bomb, os.fspath(tmp_path / "gone.png")]) == [
        images.OVER_PIXEL_LIMIT.format(20000, 20000, images.MAX_IMAGE_PIXELS),
        images.NOT_DECODABLE]
