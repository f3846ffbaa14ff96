"""Graph-mode image decoding, channel conversion and resizing.

Shared by the training pipelines and the SavedModel serving signature, so a
served image goes through exactly the same steps as a training image.
Images are float32 in [0, 255] once they leave these functions.
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


def declared_size(encoded):
    """`(height, width)` int64 as encoded images' headers declare them.

    Reads only the header: PNG's IHDR, GIF's logical screen, BMP's info
    header (a negative height means top-down), WebP's VP8/VP8L/VP8X header,
    or the frame header (SOF marker) of a JPEG. Nothing is decoded and
    nothing raises, and a batch is read at once. Formats are recognised by
    the magic bytes `tf.io.decode_image` uses.

    Args:
        encoded: A string tensor of encoded images, any shape.

    Returns:
        An int64 tensor `encoded.shape + [2]`; `[-1, -1]` for another format,
        a header cut short or a JPEG whose markers do not lead to a frame
        header.
    """
    encoded = tf.convert_to_tensor(encoded, tf.string)
    flat = tf.reshape(encoded, [-1])
    head = _bytes_at(flat, 0, _HEAD_BYTES)
    is_jpeg = _starts(head, 0, b"\xff\xd8\xff")
    size = tf.where(is_jpeg[:, None], _jpeg_size(flat, is_jpeg),
                    _size_without_jpeg(head))
    # a header cut short reads as zeros (padding): unreadable, not 0 pixels
    size = tf.where(tf.reduce_all(size > 0, axis=-1, keepdims=True), size, -1)
    return tf.reshape(size, tf.concat([tf.shape(encoded), [2]], axis=0))


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
        (_starts(data, 0, b"GIF8"), le(8, 2), le(6, 2)),
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
    of `declared_size` first for images from outside.
    """
    image = tf.io.decode_image(encoded, channels=0, expand_animations=False)
    image.set_shape([None, None, None])
    return image


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
