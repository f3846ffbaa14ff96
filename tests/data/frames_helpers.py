"""Hand-built GIFs (frames of any size, whatever the logical screen says) and
animated WebPs for the tests of first-frame decoding."""

import io
import struct

import numpy as np
from PIL import Image

# Four colours: black, red, green, blue (a 2-bit global colour table).
PALETTE = bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])


def lzw_constant(pixels, colour=1, min_code_size=2):
    """GIF LZW data of `pixels` pixels all of palette index `colour`.

    The k-th code after a clear code covers k pixels (the string one longer
    than the last, the entry the decoder has just added), so a 9000x9000
    frame takes ~55 KB; a clear code restarts the table before it is full.
    Code widths follow the decoder (giflib): code k is read with the bits
    that hold `end-of-information + k - 1`.
    """
    clear, eoi = 1 << min_code_size, (1 << min_code_size) + 1
    out, acc, nbits = bytearray(), 0, 0

    def put(code, width):
        nonlocal acc, nbits
        acc |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8

    def width_of(k):
        return min(12, max(min_code_size + 1, (eoi + k - 1).bit_length()))

    put(clear, min_code_size + 1)
    k, left = 1, pixels
    while left:
        if eoi + k > 4095:
            put(clear, width_of(k))
            k = 1
        n = min(k, left)
        put(colour if n == 1 else eoi + n - 1, width_of(k))
        left -= n
        k += 1
    put(eoi, width_of(k))
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


def sub_blocks(data, sizes=(255,)):
    """`data` as GIF data sub-blocks of the given sizes in turn, then the
    empty sub-block."""
    out, i, k = bytearray(), 0, 0
    while i < len(data):
        piece = data[i:i + sizes[k % len(sizes)]]
        out += bytes([len(piece)]) + piece
        i += len(piece)
        k += 1
    return bytes(out) + b"\0"


def gif_with_frames(screen, frames, extensions=b"", sizes=(255,)):
    """GIF89a bytes with a `screen = (width, height)` logical screen and one
    solid red image a `(left, top, width, height)` in `frames`.

    `extensions` (whole extension blocks) go before the first frame;
    `sizes` are the data sub-blocks' sizes.
    """
    screen_width, screen_height = screen
    head = b"GIF89a" + struct.pack("<HHBBB", screen_width, screen_height,
                                   0xF1, 0, 0) + PALETTE
    data = {}
    body = bytearray()
    for left, top, width, height in frames:
        if (width, height) not in data:
            data[width, height] = sub_blocks(lzw_constant(width * height), sizes)
        body += b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0)
        body += b"\x02" + data[width, height]
    return head + extensions + bytes(body) + b"\x3b"


def extension(label, data, sizes=(255,)):
    """An extension block: introducer, label, `data` as sub-blocks."""
    return b"\x21" + bytes([label]) + sub_blocks(data, sizes)


def pil_gif(frames, **save_args):
    """A GIF PIL writes of `frames` (uint8 `[H, W, 3]` arrays)."""
    images = [Image.fromarray(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=len(images) > 1,
                   append_images=images[1:], **save_args)
    return buffer.getvalue()


def animated_webp(frames, **save_args):
    """An animated WebP PIL writes of `frames` (uint8 `[H, W, C]` arrays)."""
    images = [Image.fromarray(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="WEBP", save_all=True, append_images=images[1:],
                   lossless=True, **save_args)
    return buffer.getvalue()


def random_frames(count, height, width, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
            for _ in range(count)]
