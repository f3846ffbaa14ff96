"""The shared shell of kzoo's image augmentation layers."""

import keras
from keras import ops

from kzoo.augment import functional as F


class ImageAugmentation(keras.layers.Layer):
    """Base for per-image random augmentations.

    Subclasses implement `augment(images)` on a float32 batch `(B, H, W, C)`
    with values in [0, 255]. This shell handles unbatched inputs, the value
    range, `training=False` (identity) and the seed. Outputs keep the input
    shape and dtype (integer images are rounded).

    Args:
        seed: Integer seed for the layer's `keras.random.SeedGenerator`.
        value_range: `(low, high)` pixel range of the inputs; outputs keep it.
    """

    def __init__(self, seed=None, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.value_range = F.check_value_range(value_range)
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
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

    def compute_output_shape(self, input_shape):
        return input_shape

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
