"""Graph-mode image decoding, channel conversion and resizing.

Shared by the training pipelines and the SavedModel serving signature, so a
served image goes through exactly the same steps as a training image.
Images are float32 in [0, 255] once they leave these functions.

Only the first frame of an animation is ever decoded, and its size is what
`declared_size` reports: a GIF is cut after its first frame's data (its
blocks walked in the graph) before TensorFlow's decoder sees it, since that
decoder decompresses every frame and sizes its output by the largest one,
whatever the logical screen says.
"""

import operator

import tensorflow as tf

# The most pixels (height * width) an image may declare before it is decoded.
# 64 million covers 61-megapixel camera sensors and 8K frames; decoding and
# resizing one image costs about 16 bytes a pixel at its peak (uint8 pixels,
# their float32 copy and the resize), so ~1 GB at the limit, where a 514 KB
# PNG declaring 23000x23000 took 8.4 GB to serve. PIL's own guard is 89 million.
MAX_IMAGE_PIXELS = 64_000_000

# Why an image is refused; `str.format` and `tf.strings.format` fill the `{}`s.
NOT_DECODABLE = "cannot be read or decoded as a JPEG, PNG, BMP, GIF or WebP image"
OVER_PIXEL_LIMIT = (
    "declares {}x{} pixels (height x width), over the limit of {} pixels "
    "(max_image_pixels); it was not decoded"
)

_HEAD_BYTES = 32
# Segments (APPn, DQT, DHT, COM, ...) a JPEG may have before its frame header.
_JPEG_MAX_MARKERS = 1000

# The GIF walk (`_gif_walk`) takes one loop step a block (extension or image
# descriptor) and one a run of up to `probe` sub-blocks of the same size (how
# encoders write them: all 255 or all 254 bytes but the last), so a first
# frame of 64 million pixels, whose data stays under 1.5 bytes a pixel (a
# 12-bit LZW code a pixel; PIL wrote 1.37 for noise), takes under 1,500 steps
# of 256 sub-blocks. Sub-blocks of changing sizes (XMP metadata reads as
# such) take a step each: ~300 KB of XMP fit the bound. A GIF not walked to
# its end within `_GIF_MAX_STEPS` steps is refused as not decodable. A step
# took 0.1-0.2 ms here (2 cores), so a GIF refused at the bound costs under
# a second, and walking 12 MB of frame data ~50 ms (its decode: ~250 ms).
_GIF_MAX_STEPS = 4096
_GIF_PROBE = 256  # sub-blocks a step when decoding one image
_GIF_HEADER_PROBE = 16  # ... when reading headers (a batch, up to the frame)
_GIF_NOT_WALKED = (
    "The blocks of this GIF cannot be walked to the end of its first frame "
    f"(cut short, not a GIF block, or over {_GIF_MAX_STEPS} steps); it was "
    "not decoded")


def declared_size(encoded):
    """`(height, width)` int64 as encoded images' headers declare them.

    Reads only the header: PNG's IHDR, the first image descriptor of a GIF
    (the size of the frame `decode` decodes; the logical screen's size plays
    no part), BMP's info header (a negative height means top-down), WebP's
    VP8/VP8L/VP8X header (an animation's canvas), or the frame header (SOF
    marker) of a JPEG. Nothing is decoded and nothing raises, and a batch
    is read at once. Formats are recognised by the magic bytes
    `tf.io.decode_image` uses.

    Args:
        encoded: A string tensor of encoded images, any shape.

    Returns:
        An int64 tensor `encoded.shape + [2]`; `[-1, -1]` for another format,
        a header cut short, a JPEG whose markers do not lead to a frame header
        or a GIF whose blocks do not lead to an image descriptor.
    """
    encoded = tf.convert_to_tensor(encoded, tf.string)
    size = _declared_sizes(tf.reshape(encoded, [-1]))
    return tf.reshape(size, tf.concat([tf.shape(encoded), [2]], axis=0))


# A graph even when called eagerly: the JPEG and GIF walks' loops would
# otherwise run op by op in Python (~20 ms a step, not ~0.1 ms).
@tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
def _declared_sizes(flat):
    head = _bytes_at(flat, 0, _HEAD_BYTES)
    is_jpeg = _starts(head, 0, b"\xff\xd8\xff")
    is_gif = _starts(head, 0, b"GIF8")
    size = tf.where(is_jpeg[:, None], _jpeg_size(flat, is_jpeg),
                    _size_without_jpeg(head))
    gif_size, _, _ = _gif_walk(flat, is_gif, to_end=False, probe=_GIF_HEADER_PROBE)
    size = tf.where(is_gif[:, None], gif_size, size)
    # a header cut short reads as zeros (padding): unreadable, not 0 pixels
    return tf.where(tf.reduce_all(size > 0, axis=-1, keepdims=True), size, -1)


def within_pixel_limit(size, max_pixels):
    """Whether a `declared_size` is a real size of at most `max_pixels` pixels.

    Compares `height > max_pixels // width`, so sizes whose product overflows
    int64 are still refused.
    """
    height, width = size[..., 0], size[..., 1]
    known = (height > 0) & (width > 0)
    limit = tf.cast(max_pixels, tf.int64)
    return known & (height <= limit // tf.maximum(width, 1))


def check_max_pixels(max_pixels):
    """Validate a pixel limit; returns it as an int.

    Raises:
        ValueError: If it is not a positive integer.
    """
    try:
        value = operator.index(max_pixels)
    except TypeError:
        value = 0
    if isinstance(max_pixels, bool) or value < 1:
        raise ValueError(
            "max_image_pixels must be a positive integer (height * width). "
            f"Received: max_image_pixels={max_pixels!r}"
        )
    return value


def max_encoded_bytes(max_pixels):
    """The largest file worth reading for images of at most `max_pixels`.

    9 bytes a pixel is more than any supported format needs (16-bit RGBA PNG
    stored uncompressed takes 8 plus a filter byte a row); 16 MiB more leaves
    room for metadata (EXIF, ICC profiles, an embedded motion-photo video).
    """
    return 9 * max_pixels + 16 * 2**20


def _bytes_at(encoded, offset, n):
    """`[N, n]` int64 bytes of `encoded [N]` from `offset` (a scalar or `[N]`),
    zero where a string is shorter."""
    offset = tf.minimum(tf.cast(offset, tf.int32), tf.strings.length(encoded))
    chunk = tf.strings.substr(encoded, offset, tf.fill(tf.shape(offset), n))
    padded = tf.strings.substr(tf.strings.join([chunk, b"\0" * n]), 0, n)
    return tf.cast(tf.reshape(tf.io.decode_raw(padded, tf.uint8), [-1, n]), tf.int64)


def _unsigned(data, offset, n, big_endian=False):
    order = range(offset, offset + n)
    value = tf.zeros_like(data[:, 0])
    for k in order if big_endian else reversed(order):
        value = value * 256 + data[:, k]
    return value


def _size_without_jpeg(data):
    def le(offset, n):
        return _unsigned(data, offset, n)

    def signed32(value):
        return tf.abs(tf.where(value >= 2**31, value - 2**32, value))

    vp8l = le(21, 4)  # 14 bits width - 1, then 14 bits height - 1
    cases = [  # (format matches, height, width)
        (_starts(data, 0, b"\x89PNG\r\n\x1a\n") & _starts(data, 12, b"IHDR"),
         _unsigned(data, 20, 4, big_endian=True),
         _unsigned(data, 16, 4, big_endian=True)),
        (_starts(data, 0, b"BM"), signed32(le(22, 4)), signed32(le(18, 4))),
        (_webp(data, b"VP8X"), le(27, 3) + 1, le(24, 3) + 1),
        (_webp(data, b"VP8 "), le(28, 2) % 2**14, le(26, 2) % 2**14),
        (_webp(data, b"VP8L"), vp8l // 2**14 % 2**14 + 1, vp8l % 2**14 + 1),
    ]
    size = -tf.ones_like(data[:, :2])
    for matches, height, width in reversed(cases):
        size = tf.where(matches[:, None], tf.stack([height, width], axis=1), size)
    return size


def _jpeg_size(encoded, is_jpeg):
    """Frame sizes of the JPEGs among `encoded`, found by walking the markers
    as libjpeg does (all images at once; `[-1, -1]` for the others).

    From the SOI marker, each segment is skipped by its length (fill bytes
    0xFF and the parameterless markers by themselves) until a frame header
    SOFn (0xC0-0xCF but DHT 0xC4, JPG 0xC8, DAC 0xCC), whose height and width
    follow its length and precision. Anything else (bytes that are not a
    marker, scan data or the end before a frame header, more than
    `_JPEG_MAX_MARKERS` segments) leaves `[-1, -1]`.
    """
    length = tf.cast(tf.strings.length(encoded), tf.int64)

    def step(count, pos, size, active):
        b = _bytes_at(encoded, pos, 9)
        marker = b[:, 1]
        is_marker = tf.equal(b[:, 0], 0xFF)
        frame = is_marker & (marker >= 0xC0) & (marker <= 0xCF) & (
            marker != 0xC4) & (marker != 0xC8) & (marker != 0xCC)
        alone = tf.equal(marker, 0x01) | ((marker >= 0xD0) & (marker <= 0xD8))
        skip = tf.where(tf.equal(marker, 0xFF), tf.ones_like(pos),
                        tf.where(alone, 2 * tf.ones_like(pos),
                                 2 + b[:, 2] * 256 + b[:, 3]))
        found = tf.stack([b[:, 5] * 256 + b[:, 6], b[:, 7] * 256 + b[:, 8]], axis=1)
        size = tf.where((active & frame)[:, None], found, size)
        stop = frame | ~is_marker | tf.equal(marker, 0xD9) | tf.equal(marker, 0xDA)
        active = active & ~stop & (pos + skip + 2 <= length)
        return count + 1, tf.where(active, pos + skip, pos), size, active

    unknown = -tf.ones(tf.stack([tf.size(length), 2]), tf.int64)
    start = (tf.constant(0), 2 * tf.ones_like(length), unknown, is_jpeg)
    _, _, size, _ = tf.while_loop(
        lambda count, pos, size, active: (count < _JPEG_MAX_MARKERS)
        & tf.reduce_any(active),
        step,
        start,
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None]),
                          tf.TensorShape([None, 2]), tf.TensorShape([None])),
    )
    return size


def _gif_walk(encoded, active, to_end, probe):
    """Walk the blocks of the GIFs among `encoded [N]` (rows where `active`)
    as giflib reads them, up to the first image descriptor, or with `to_end`
    to the end of the first frame's data.

    From the logical screen and its global colour table, each extension
    (0x21, a label, data sub-blocks up to an empty one) is skipped until an
    image descriptor (0x2C), whose width and height are the size of the
    frame; then its local colour table, LZW code size and data sub-blocks.
    A sub-block is a size byte and that many bytes. A step reads a window
    of `256 * probe + 1` bytes and skips a block, or a run of up to `probe`
    sub-blocks of the size of the first and the empty one that may follow.
    Anything else (another block type, the trailer first, a string cut
    short, more than `_GIF_MAX_STEPS` steps) fails the walk.

    Returns:
        `(size [N, 2] int64 (height, width) of the first frame or -1, end [N]
        int64 offset just past the walk, ok [N] bool)`.
    """
    length = tf.cast(tf.strings.length(encoded), tf.int64)
    width = 256 * probe + 1
    start = 13 + _colour_table_bytes(_bytes_at(encoded, 10, 1)[:, 0])
    runs = tf.range(probe + 1, dtype=tf.int64)[None, :]

    def step(count, pos, phase, size, active, ok):
        # phase 0: between blocks; 1: extension sub-blocks; 2: frame data.
        data = _window(encoded, length, pos, tf.where(active, width, 0), width)
        head = tf.cast(data[:, :10], tf.int64)
        first = head[:, 0]
        blocks = tf.equal(phase, 0)
        extension = blocks & tf.equal(first, 0x21)
        image = blocks & tf.equal(first, 0x2C) & (pos + 10 <= length)
        size = tf.where((active & image)[:, None], tf.stack(
            [_unsigned(head, 7, 2), _unsigned(head, 5, 2)], axis=1), size)
        # A run of sub-blocks the size of the first, and the byte after it.
        stride = first + 1
        at = stride[:, None] * runs  # the next `probe` size bytes, if equal
        sizes = tf.cast(tf.gather(data, at, batch_dims=1), tf.int64)
        same = tf.equal(sizes[:, :-1], first[:, None]) & (
            pos[:, None] + at[:, :-1] < length[:, None])
        run = tf.reduce_sum(tf.math.cumprod(tf.cast(same, tf.int64), axis=1), axis=1)
        after = pos + stride * run
        closed = ~blocks & ((pos < length) & tf.equal(first, 0) | (after < length) & (
            tf.equal(tf.gather(sizes, run, batch_dims=1), 0)))
        next_pos = tf.where(
            blocks,
            tf.where(extension, pos + 2, pos + 11 + _colour_table_bytes(head[:, 9])),
            tf.where(closed, tf.where(tf.equal(first, 0), pos, after) + 1, after))
        next_phase = tf.where(extension, 1, tf.where(image, 2, tf.where(
            closed, 0, phase)))
        finished = image if not to_end else closed & tf.equal(phase, 2)
        moved = active & (pos < length) & (extension | image | ~blocks)
        return (count + 1, tf.where(moved, next_pos, pos),
                tf.where(moved, next_phase, phase), size, moved & ~finished,
                ok | (moved & finished))

    state = (tf.constant(0), start, tf.zeros_like(length, tf.int32),
             -tf.ones([tf.size(length), 2], tf.int64), active & (start < length),
             tf.zeros_like(active))
    _, end, _, size, _, ok = tf.while_loop(
        lambda count, pos, phase, size, active, ok: (count < _GIF_MAX_STEPS)
        & tf.reduce_any(active),
        step, state,
        shape_invariants=(tf.TensorShape([]), tf.TensorShape([None]),
                          tf.TensorShape([None]), tf.TensorShape([None, 2]),
                          tf.TensorShape([None]), tf.TensorShape([None])),
    )
    return tf.where(ok[:, None], size, -1), end, ok


def _colour_table_bytes(packed):
    """Bytes of the colour table a GIF screen or image descriptor's packed
    field announces: 3 * 2^(size + 1) if its top bit is set, else none."""
    return tf.where(packed >= 128, 3 * tf.bitwise.left_shift(
        tf.ones_like(packed), packed % 8 + 1), 0)


def _window(encoded, length, offset, n, width):
    """`[N, width]` uint8: `n [N]` bytes of `encoded [N]` (of `length [N]`)
    from `offset [N]`, zeros past them or past a string's end."""
    offset = tf.minimum(offset, length)
    n = tf.minimum(tf.cast(n, tf.int64), length - offset)
    chunk = tf.strings.substr(encoded, tf.cast(offset, tf.int32), tf.cast(n, tf.int32))
    return tf.io.decode_raw(chunk, tf.uint8, fixed_length=width)


def _webp(data, chunk):
    return (_starts(data, 0, b"RIFF") & _starts(data, 8, b"WEBP")
            & _starts(data, 12, chunk))


def _starts(data, offset, magic):
    """Whether each row of bytes `data [N, k]` holds `magic` at `offset`."""
    want = tf.constant(list(magic), tf.int64)
    return tf.reduce_all(tf.equal(data[:, offset : offset + len(magic)], want), axis=1)


def decode(encoded):
    """Decode one JPEG/PNG/BMP/GIF/WebP string to uint8 `[H, W, C]` (first frame).

    Decodes whatever size the header declares: check `within_pixel_limit`
    of `declared_size` first for images from outside. Only the first frame
    of an animation is decompressed (`first_frame`), so the size
    `declared_size` reports is the size decoded.

    Raises:
        tf.errors.InvalidArgumentError: When run, for a string that does not
            decode, a GIF whose blocks cannot be walked included.
    """
    return decode_still(first_frame(encoded))


def decode_still(encoded):
    """`decode` of a JPEG, PNG or BMP string, which has one frame: without
    the `first_frame` walk that would leave it as it is."""
    image = tf.io.decode_image(encoded, channels=0, expand_animations=False)
    image.set_shape([None, None, None])
    return image


def first_frame(encoded):
    """One encoded image string as TensorFlow's decoder should see it: the
    first frame alone.

    TensorFlow's GIF decoder decompresses every frame and sizes its output
    by the largest, whatever `expand_animations` says (a 55 KB GIF with a
    1x1 logical screen and a 9000x9000 frame took 2.3 GB). A GIF is cut
    after its first frame's data (`_gif_walk`) and ends with the trailer,
    so the decoder reads one frame; one whose blocks cannot be walked makes
    the op fail (not decodable) rather than be decoded blind.

    TensorFlow's animated WebP decoder (a VP8X header with the animation
    flag) decodes the first frame only, on the canvas `declared_size`
    reads, but always as RGBA, into an output it sizes with 3 channels when
    the header's alpha flag is clear: a heap overflow (glibc aborts the
    process: "corrupted size vs. prev_size"). The alpha flag of an animation
    is set, so the output has the 4 channels written (alpha 255 where the
    frame is opaque). Other strings are returned as they are.
    """
    encoded = tf.convert_to_tensor(encoded, tf.string)
    flat = tf.reshape(encoded, [1])
    head = _bytes_at(flat, 0, 21)
    is_gif = _starts(head, 0, b"GIF8")[0]
    flags = head[0, 20]
    animated_webp = (_webp(head, b"VP8X")[0]
                     & tf.not_equal(tf.bitwise.bitwise_and(flags, 0x02), 0))

    def gif():
        end, ok = _gif_first_frame_end(flat)
        check = tf.debugging.Assert(ok[0], [_GIF_NOT_WALKED])
        with tf.control_dependencies([check]):
            return tf.strings.join([tf.strings.substr(encoded, 0, tf.cast(
                end[0], tf.int32)), b"\x3b"])

    def webp_with_alpha():
        byte = tf.gather(tf.constant([bytes([i]) for i in range(256)]),
                         tf.bitwise.bitwise_or(flags, 0x10))
        return tf.strings.join([tf.strings.substr(encoded, 0, 20), byte,
                                tf.strings.substr(encoded, 21, -1)])

    return tf.cond(is_gif, gif, lambda: tf.cond(
        animated_webp, webp_with_alpha, lambda: tf.identity(encoded)))


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
def _gif_first_frame_end(flat):
    """`(end, ok)` of `_gif_walk` to the end of the first frame (a graph even
    when called eagerly)."""
    _, end, ok = _gif_walk(flat, tf.ones_like(flat, tf.bool), to_end=True,
                           probe=_GIF_PROBE)
    return end, ok


def convert_channels(image, channels):
    """Convert `[..., H, W, C]` images with C in {1, 2, 3, 4} to `channels` (1 or 3).

    Gray becomes RGB by repetition, RGB becomes gray by luma weights, an alpha
    channel (C = 2 or 4) is dropped.
    """
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: channels={channels}")
    image = tf.convert_to_tensor(image)
    rank = image.shape.rank
    num = tf.shape(image)[-1]
    # Drop alpha: gray+alpha -> gray, RGBA -> RGB.
    image = tf.cond(
        tf.equal(num % 2, 0), lambda: image[..., : num - 1], lambda: image
    )
    image = tf.ensure_shape(image, [None] * rank)
    if channels == 3:
        image = tf.cond(
            tf.equal(tf.shape(image)[-1], 1),
            lambda: tf.repeat(image, 3, axis=-1),
            lambda: image,
        )
    else:
        image = tf.cond(
            tf.equal(tf.shape(image)[-1], 3),
            lambda: _to_gray(image),
            lambda: image,
        )
    return tf.ensure_shape(image, [None] * (rank - 1) + [channels])


def _to_gray(image):
    gray = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
    return tf.cast(tf.round(gray), image.dtype)


def resize(image, size):
    """Resize `[..., H, W, C]` to `size = (height, width)` (antialiased
    bilinear), returning float32 in [0, 255].

    An image already of that size is returned as it is, without running
    the resize kernel: at scale 1 the antialiased kernel is the identity
    (tests/data/test_images.py checks), so the result is the same.
    """
    image = tf.cast(image, tf.float32)
    height, width = size
    static = tuple(image.shape[-3:-1])
    if static == (height, width):
        return tf.clip_by_value(image, 0.0, 255.0)

    def resized():
        return tf.image.resize(image, size, method="bilinear", antialias=True)

    if None not in static:
        return tf.clip_by_value(resized(), 0.0, 255.0)
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[-3], height), tf.equal(shape[-2], width))
    image = tf.cond(same, lambda: tf.identity(image), resized)
    image = tf.ensure_shape(image, image.shape[:-3] + (height, width) +
                            image.shape[-1:])
    return tf.clip_by_value(image, 0.0, 255.0)


def to_model_input(image, size, channels):
    """Any decoded image (uint8 or float in [0, 255]) -> float32 model input."""
    return resize(convert_channels(image, channels), size)


def decode_to_model_input(encoded, size, channels):
    """Encoded image string -> float32 `[height, width, channels]`."""
    image = to_model_input(decode(encoded), size, channels)
    return tf.ensure_shape(image, [size[0], size[1], channels])


def encode_png(image):
    """uint8/float `[H, W, C]` in [0, 255] -> PNG string (C in {1, 3, 4})."""
    image = tf.cast(tf.round(tf.clip_by_value(tf.cast(image, tf.float32), 0, 255)),
                    tf.uint8)
    return tf.io.encode_png(image)
