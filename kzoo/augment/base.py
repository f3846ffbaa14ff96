"""The data contract and shared shell of kzoo's augmentation layers.

Every kzoo augmentation layer takes what Keras's own image preprocessing
layers take (`keras.layers.RandomFlip`, `keras.layers.CutMix`, ...): a batch
of images `(B, H, W, C)` (per-image layers also take one image `(H, W, C)`),
or a dict `{"images": ..., "labels": ...}`, and returns the same structure.
Per-image layers pass the labels (and any other entry) through untouched;
label-mixing layers (CutMix, MixUp) mix images and labels together. So a
pipeline chains layers without asking what each one is.
"""

import keras
from keras import ops

from kzoo.augment import functional as F

IMAGES = "images"
LABELS = "labels"


def unpack(data):
    """`(images, labels)` of a batch or a dict; labels None when absent."""
    if isinstance(data, dict):
        if IMAGES not in data:
            raise ValueError(
                'Expected images or a dict with an "images" entry (and '
                f'optionally "labels"). Received: keys={sorted(data)}'
            )
        return data[IMAGES], data.get(LABELS)
    return data, None


def repack(data, images, labels=None):
    """The structure of `data` holding the new `images` (and `labels`)."""
    if not isinstance(data, dict):
        return images
    out = dict(data)
    out[IMAGES] = images
    if labels is not None:
        out[LABELS] = labels
    return out


def output_shape(input_shape, images_shape_fn, labels_shape_fn=None):
    """`compute_output_shape` for images or a dict of shapes."""
    if not isinstance(input_shape, dict):
        return images_shape_fn(input_shape)
    out = dict(input_shape)
    out[IMAGES] = images_shape_fn(input_shape[IMAGES])
    if labels_shape_fn is not None and LABELS in input_shape:
        out[LABELS] = labels_shape_fn(input_shape[LABELS])
    return out


class ImageAugmentation(keras.layers.Layer):
    """Base for per-image random augmentations.

    Subclasses implement `augment(images)` on a float32 batch `(B, H, W, C)`
    with values in [0, 255]. This shell handles the data contract (images or
    a `{"images", "labels"}` dict, labels passed through), unbatched
    inputs, the value range, `training=False` (`inference`, identity unless
    a subclass changes the size) and the seed. Outputs keep the input shape
    and dtype (integer images are rounded).

    Args:
        seed: Integer seed for the layer's `keras.random.SeedGenerator`.
        value_range: `(low, high)` pixel range of the inputs; outputs keep it.
    """

    def __init__(self, seed=None, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.value_range = F.check_value_range(value_range)
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, data, training=True):
        images, _ = unpack(data)
        return repack(data, self.transform_images(images, training))

    def transform_images(self, images, training=True):
        """The images half of `call`: augmented at training, else `inference`."""
        images = ops.convert_to_tensor(images)
        if not training:
            return self.inference(images)
        unbatched = len(images.shape) == 3
        if len(images.shape) not in (3, 4):
            raise ValueError(
                "Expected images of rank 3 (H, W, C) or 4 (B, H, W, C). "
                f"Received: images.shape={images.shape}"
            )
        x = ops.cast(images, "float32")
        if unbatched:
            x = x[None]
        x = F.from_255(self.augment(F.to_255(x, self.value_range)), self.value_range)
        if unbatched:
            x = x[0]
        return self.restore_dtype(x, images.dtype)

    def restore_dtype(self, x, dtype):
        """Back to the input dtype; integer images are rounded and clipped."""
        if "int" in str(dtype):
            x = ops.round(ops.clip(x, *self.value_range))
        return ops.cast(x, dtype)

    def inference(self, images):
        return images

    def augment(self, images):
        raise NotImplementedError

    def compute_image_shape(self, images_shape):
        return images_shape

    def compute_output_shape(self, input_shape):
        return output_shape(input_shape, self.compute_image_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed, "value_range": self.value_range})
        return config


def signs(shape, generator):
    """Random +1/-1 values."""
    return ops.where(keras.random.uniform(shape, seed=generator) < 0.5, -1.0, 1.0)


def check_probability(name, value):
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={value}")
    return float(value)
