"""Cutout (DeVries & Taylor 2017) as FixMatch's strong augmentation uses it."""

import keras
from keras import ops

from kzoo.augment.base import ImageAugmentation


@keras.saving.register_keras_serializable(package="kzoo")
class Cutout(ImageAugmentation):
    """Fill one random square of each image with a constant.

    Per image, the square's side is drawn uniformly in `[0, max_size]` of
    the image's shorter side and its centre uniformly over the image (the
    square is clipped at the borders), as FixMatch's RandAugment applies
    it after the RandAugment ops (USB: `Cutout(img, U(0, 0.5))`, gray
    fill).

    Args:
        max_size: Largest side, as a fraction of the shorter side, in [0, 1].
        fill_value: The square's value, in [0, 255] (127: mid gray).
        seed: Integer seed.
        value_range: Pixel range of the inputs.

    Reference:
        DeVries, Taylor. "Improved Regularization of Convolutional Neural
        Networks with Cutout", 2017.
    """

    def __init__(self, max_size=0.5, fill_value=127.0, seed=None,
                 value_range=(0, 255), **kwargs):
        super().__init__(seed=seed, value_range=value_range, **kwargs)
        if not 0.0 <= max_size <= 1.0:
            raise ValueError(
                f"`max_size` must be in [0, 1]. Received: max_size={max_size}")
        if not 0.0 <= fill_value <= 255.0:
            raise ValueError(
                f"`fill_value` must be in [0, 255]. Received: fill_value={fill_value}")
        self.max_size = float(max_size)
        self.fill_value = float(fill_value)

    def augment(self, images):
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        h = ops.cast(height, "float32")
        w = ops.cast(width, "float32")
        draws = keras.random.uniform((batch, 3), seed=self.generator)
        half = draws[:, 0] * self.max_size * ops.minimum(h, w) / 2.0
        cy, cx = draws[:, 1] * h, draws[:, 2] * w
        # Pixel centres at i + 0.5: inside when within `half` of the centre.
        rows = ops.arange(height, dtype="float32") + 0.5
        cols = ops.arange(width, dtype="float32") + 0.5
        inside_y = ops.abs(rows[None, :] - cy[:, None]) < half[:, None]
        inside_x = ops.abs(cols[None, :] - cx[:, None]) < half[:, None]
        inside = ops.logical_and(inside_y[:, :, None], inside_x[:, None, :])
        return ops.where(inside[..., None], self.fill_value, images)

    def get_config(self):
        config = super().get_config()
        config.update({"max_size": self.max_size, "fill_value": self.fill_value})
        return config
