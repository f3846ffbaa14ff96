"""Graph-mode image decoding, channel conversion and resizing.

Shared by the training pipelines and the SavedModel serving signature, so a
served image goes through exactly the same steps as a training image.
Images are float32 in [0, 255] once they leave these functions.
"""

import tensorflow as tf


def decode(encoded):
    """Decode one JPEG/PNG/BMP/GIF string to uint8 `[H, W, C]` (first frame)."""
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
    """Resize to `size = (height, width)`, returning float32 in [0, 255]."""
    image = tf.cast(image, tf.float32)
    image = tf.image.resize(image, size, method="bilinear", antialias=True)
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
