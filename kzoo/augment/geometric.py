"""Per-image geometric augmentations that `keras.layers` lacks.

Keras core already has exact per-image `RandomFlip`, `RandomRotation`
(arbitrary angle), `RandomShear`, `RandomPerspective`, `RandomBrightness`
(additive, clipped) and `CenterCrop`; kzoo uses those. Missing there: a
per-image random crop (Keras's `RandomCrop` crops a whole batch at one
location), random-resized-crop, quarter-turn rotation and an affine map
solved from three point pairs.
"""

import math

import keras
from keras import ops

from kzoo.augment import functional as F
from kzoo.augment.base import ImageAugmentation


class _CropAugmentation(ImageAugmentation):
    """An augmentation whose output is `height x width`."""

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        if not (
            isinstance(height, int)
            and isinstance(width, int)
            and height > 0
            and width > 0
        ):
            raise ValueError(
                "`height` and `width` must be positive integers. "
                f"Received: height={height}, width={width}"
            )
        self.height, self.width = height, width

    def compute_image_shape(self, images_shape):
        return tuple(images_shape[:-3]) + (self.height, self.width, images_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"height": self.height, "width": self.width})
        return config


def _pad_to(images, height, width, fill_value):
    """Pad bottom/right so the canvas holds at least `height x width`."""
    pad_h = max(height - images.shape[1], 0)
    pad_w = max(width - images.shape[2], 0)
    if pad_h == 0 and pad_w == 0:
        return images
    return ops.pad(
        images, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=fill_value
    )


def _uniform(shape, low, high, generator):
    return keras.random.uniform(shape, minval=low, maxval=high, seed=generator)


@keras.saving.register_keras_serializable(package="kzoo")
class RandomCrop(_CropAugmentation):
    """Crop `height x width` at an independent random place in each image.

    With `padding > 0` the image is first padded by that many pixels of
    `fill_value` on every side (the CIFAR "pad and crop" recipe). At
    inference the layer takes the central crop.

    Args:
        height: Output height.
        width: Output width.
        padding: Pixels of padding on each side before cropping.
        fill_value: Padding value, in the input's value range.
        seed, value_range: See `ImageAugmentation`.
    """

    def __init__(self, height, width, padding=0, fill_value=0.0, **kwargs):
        super().__init__(height, width, **kwargs)
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(
                f"`padding` must be an integer >= 0. Received: padding={padding}"
            )
        self.padding = padding
        self.fill_value = float(fill_value)

    def augment(self, images):
        batch = ops.shape(images)[0]
        in_h, in_w = images.shape[1], images.shape[2]
        if (
            in_h + 2 * self.padding < self.height
            or in_w + 2 * self.padding < self.width
        ):
            raise ValueError(
                f"Crop {self.height}x{self.width} is larger than the padded "
                f"image. Received: images.shape={images.shape}, "
                f"padding={self.padding}"
            )
        max_y = in_h + 2 * self.padding - self.height
        max_x = in_w + 2 * self.padding - self.width
        y0 = ops.floor(_uniform((batch,), 0.0, max_y + 1.0, self.generator))
        x0 = ops.floor(_uniform((batch,), 0.0, max_x + 1.0, self.generator))
        # Output pixel (x, y) reads input (x + x0 - padding, y + y0 - padding).
        matrix = F.translate_matrix(self.padding - x0, self.padding - y0)
        fill = F.to_255(self.fill_value, self.value_range)
        canvas = _pad_to(images, self.height, self.width, fill)
        out = F.warp(canvas, matrix, interpolation="nearest", fill_value=fill)
        return out[:, : self.height, : self.width, :]

    def inference(self, images):
        height, width = images.shape[-3], images.shape[-2]
        top = (height - self.height) // 2
        left = (width - self.width) // 2
        if top < 0 or left < 0:
            resized = ops.image.resize(
                ops.cast(images, "float32"), (self.height, self.width)
            )
            return self.restore_dtype(resized, images.dtype)
        return images[..., top : top + self.height, left : left + self.width, :]

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding, "fill_value": self.fill_value})
        return config


@keras.saving.register_keras_serializable(package="kzoo")
class RandomResizedCrop(_CropAugmentation):
    """Crop a random area and aspect ratio, resized to `height x width`.

    Per image: area fraction ~ U(scale), log aspect ratio ~ U(log ratio), a
    uniform position, bilinear sampling (as torchvision's
    `RandomResizedCrop`, but without its 10 rejection retries: a box wider
    or taller than the image is clipped to it). At inference: the central
    crop of the target aspect ratio, resized.

    Args:
        height: Output height.
        width: Output width.
        scale: `(min, max)` fraction of the image area, in (0, 1].
        ratio: `(min, max)` aspect ratio width / height.
        seed, value_range: See `ImageAugmentation`.

    Reference:
        Szegedy et al., "Going deeper with convolutions", CVPR 2015.
    """

    def __init__(
        self, height, width, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), **kwargs
    ):
        super().__init__(height, width, **kwargs)
        if not (len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            raise ValueError(
                f"`scale` must be (min, max) with 0 < min <= max <= 1. "
                f"Received: scale={scale}"
            )
        if not (len(ratio) == 2 and 0 < ratio[0] <= ratio[1]):
            raise ValueError(
                f"`ratio` must be (min, max) with 0 < min <= max. "
                f"Received: ratio={ratio}"
            )
        self.scale = tuple(float(s) for s in scale)
        self.ratio = tuple(float(r) for r in ratio)

    def augment(self, images):
        batch = ops.shape(images)[0]
        in_h, in_w = float(images.shape[1]), float(images.shape[2])
        area = _uniform((batch,), *self.scale, self.generator) * in_h * in_w
        log_ratio = _uniform(
            (batch,), *[math.log(r) for r in self.ratio], self.generator
        )
        aspect = ops.exp(log_ratio)
        crop_w = ops.minimum(ops.sqrt(area * aspect), in_w)
        crop_h = ops.minimum(ops.sqrt(area / aspect), in_h)
        x0 = _uniform((batch,), 0.0, 1.0, self.generator) * (in_w - crop_w)
        y0 = _uniform((batch,), 0.0, 1.0, self.generator) * (in_h - crop_h)
        sx, sy = crop_w / self.width, crop_h / self.height
        zero = ops.zeros_like(sx)
        # Pixel centres: output x -> input x0 + (x + 0.5) * sx - 0.5.
        matrix = ops.stack(
            [
                ops.stack([sx, zero, x0 + 0.5 * sx - 0.5], -1),
                ops.stack([zero, sy, y0 + 0.5 * sy - 0.5], -1),
            ],
            axis=1,
        )
        canvas = _pad_to(images, self.height, self.width, 0.0)
        out = F.warp(canvas, matrix, interpolation="bilinear", fill_value=0.0)
        return out[:, : self.height, : self.width, :]

    def inference(self, images):
        resized = ops.image.resize(
            ops.cast(images, "float32"),
            (self.height, self.width),
            crop_to_aspect_ratio=True,
        )
        return self.restore_dtype(resized, images.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "ratio": self.ratio})
        return config


@keras.saving.register_keras_serializable(package="kzoo")
class RandomRotate90(ImageAugmentation):
    """Rotate each image by a random multiple of 90 degrees (exact, no fill).

    Args:
        turns: The quarter turns to draw from, uniformly; e.g. `(0, 2)` for
            0/180 only. 1 and 3 need square images.
        seed, value_range: See `ImageAugmentation`.
    """

    def __init__(self, turns=(0, 1, 2, 3), **kwargs):
        super().__init__(**kwargs)
        turns = tuple(turns)
        if not turns or any(t not in (0, 1, 2, 3) for t in turns):
            raise ValueError(
                "`turns` must be a non-empty subset of (0, 1, 2, 3). "
                f"Received: turns={turns}"
            )
        self.turns = turns

    def augment(self, images):
        height, width = images.shape[1], images.shape[2]
        if height != width and any(t % 2 for t in self.turns):
            raise ValueError(
                "Quarter turns 1 and 3 need square images. "
                f"Received: images.shape={images.shape}, turns={self.turns}"
            )
        batch = ops.shape(images)[0]
        pick = keras.random.randint((batch,), 0, len(self.turns), seed=self.generator)
        degrees = ops.take(ops.convert_to_tensor(self.turns, "float32"), pick) * 90.0
        rounded = ops.round(F.rotate_matrix(degrees))  # exact 0/1/-1 entries
        matrix = F.centered(rounded, height, width)
        return F.warp(images, matrix, interpolation="nearest")

    def get_config(self):
        config = super().get_config()
        config.update({"turns": list(self.turns)})
        return config


@keras.saving.register_keras_serializable(package="kzoo")
class RandomAffine(ImageAugmentation):
    """Random affine warp solved from three jittered point pairs.

    The `cv2.getAffineTransform` idea: three anchor points (top-left,
    top-right, bottom-left at 10% insets) each move by up to `max_shift` of
    the image size in x and y; the six affine parameters are solved from the
    three correspondences (`functional.affine_from_points`).

    Args:
        max_shift: Largest point move as a fraction of the image size, >= 0.
        interpolation: `"bilinear"` or `"nearest"`.
        fill_value: Value outside the source image, in the input's range.
        seed, value_range: See `ImageAugmentation`.
    """

    def __init__(
        self, max_shift=0.1, interpolation="bilinear", fill_value=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        if max_shift < 0:
            raise ValueError(
                f"`max_shift` must be >= 0. Received: max_shift={max_shift}"
            )
        self.max_shift = float(max_shift)
        self.interpolation = F.check_interpolation(interpolation)
        self.fill_value = float(fill_value)

    def augment(self, images):
        batch = ops.shape(images)[0]
        height, width = float(images.shape[1]), float(images.shape[2])
        anchors = ops.convert_to_tensor(
            [
                [0.1 * width, 0.1 * height],
                [0.9 * width, 0.1 * height],
                [0.1 * width, 0.9 * height],
            ]
        )
        size = ops.convert_to_tensor([width, height])
        jitter = _uniform(
            (batch, 3, 2), -self.max_shift, self.max_shift, self.generator
        )
        moved = anchors[None] + jitter * size
        # Content at `anchors` moves to `moved`: output->input maps moved -> anchors.
        matrix = F.affine_from_points(
            moved, ops.broadcast_to(anchors[None], ops.shape(moved))
        )
        fill = F.to_255(self.fill_value, self.value_range)
        return F.warp(images, matrix, interpolation=self.interpolation, fill_value=fill)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_shift": self.max_shift,
                "interpolation": self.interpolation,
                "fill_value": self.fill_value,
            }
        )
        return config
