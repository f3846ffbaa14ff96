"""RandAugment with the paper's 14 operations, drawn independently per image."""

import keras
from keras import ops

from kzoo.augment import functional as F
from kzoo.augment.base import ImageAugmentation, signs

MAX_MAGNITUDE = 30
# Above this many pixels per image a batch is augmented image by image (one
# branch each); below it each op runs once on the group of images that drew
# it. Both give identical results; measured inside tf.data on 2 CPU cores
# (batch 32, N=2, M=9), grouping is 1.5x faster at 32 px and the per-image
# path 1.2x faster at 224 px.
GROUPED_MAX_PIXELS = 96 * 96


def _per_image(signs):
    return ops.reshape(signs, (-1, 1, 1, 1))


def _enhance(fn):
    # PIL enhance factor 1 +/- 0.09 M: [0.1, 1.9] at M=10 (AutoAugment's range).
    return lambda images, m, signs: fn(
        images, ops.maximum(1.0 + _per_image(signs) * 0.09 * m, 0.0)
    )


def _geometric(matrix_fn):
    def op(images, m, signs, interpolation, fill_value):
        height, width = images.shape[1], images.shape[2]
        matrix = F.centered(matrix_fn(m, signs, height, width), height, width)
        return F.warp(
            images, matrix, interpolation=interpolation, fill_value=fill_value
        )

    return op


def _translate(axis):
    def matrix(m, signs, height, width):
        size = float(width if axis == "x" else height)
        shift = signs * ops.minimum(0.045 * m, 1.0) * size
        zero = ops.zeros_like(shift)
        return (
            F.translate_matrix(shift, zero)
            if axis == "x"
            else F.translate_matrix(zero, shift)
        )

    return matrix


def _shear(axis):
    def matrix(m, signs, height, width):
        shear = signs * 0.03 * m
        zero = ops.zeros_like(shear)
        return (
            F.shear_matrix(shear, zero) if axis == "x" else F.shear_matrix(zero, shear)
        )

    return matrix


def _rotate(m, signs, height, width):
    return F.rotate_matrix(signs * 3.0 * m)


# name -> (fn(images, m, signs), geometric?): images (B, H, W, C) in [0, 255],
# m the magnitude, signs (B,) of +/-1 for the signed ops. Order is the
# paper's list. Ranges at magnitude M (0..30; M=10 is AutoAugment's maximum):
OPS = {
    "identity": (lambda images, m, signs: images, False),
    "auto_contrast": (lambda images, m, signs: F.auto_contrast(images), False),
    "equalize": (lambda images, m, signs: F.equalize(images), False),
    # +/- 3M degrees (30 at M=10, 90 at M=30)
    "rotate": (_geometric(_rotate), True),
    # invert pixels >= 256 - 25.6 M (none at M=0, all from M=10)
    "solarize": (lambda images, m, signs: F.solarize(images, 256.0 - 25.6 * m), False),
    # factor 1 +/- 0.09 M, clipped at 0
    "color": (_enhance(F.color), False),
    # keep max(8 - floor(0.4 M), 1) bits (8 at M=0, 4 at M=10)
    "posterize": (
        lambda images, m, signs: F.posterize(images, max(8 - int(0.4 * m), 1)),
        False,
    ),
    "contrast": (_enhance(F.contrast), False),
    "brightness": (_enhance(F.brightness), False),
    "sharpness": (_enhance(F.sharpness), False),
    # +/- 0.03 M (0.3 at M=10)
    "shear_x": (_geometric(_shear("x")), True),
    "shear_y": (_geometric(_shear("y")), True),
    # +/- min(0.045 M, 1) of the image size (45% at M=10)
    "translate_x": (_geometric(_translate("x")), True),
    "translate_y": (_geometric(_translate("y")), True),
}
OP_NAMES = tuple(OPS)


@keras.saving.register_keras_serializable(package="kzoo")
class RandAugment(ImageAugmentation):
    """RandAugment: `num_ops` random operations of magnitude `magnitude`.

    Every image draws its own sequence of `num_ops` operations, uniformly
    from the paper's 14 (with replacement), and its own sign for signed
    operations. Only drawn operations are computed, so the cost is N
    operations per image, not 14: small images are grouped by operation
    (each runs once per slot on the images that drew it), large images and
    single images run their own branches (`GROUPED_MAX_PIXELS`).

    Magnitude `M` uses the paper's integer scale 0-30, where M=10 is
    AutoAugment's maximum and each range grows linearly with M (see `OPS`
    for each operation's value at M).
    Geometric operations fill with grey (128) as the reference code does;
    `fill_value=0` suits dark-background images such as digits.
    Identity at `training=False`. Works on `(H, W, C)` or `(B, H, W, C)`
    images or a `{"images", "labels"}` dict (labels pass through),
    inside `tf.data` (graph mode) or as a model layer. As a model
    layer, compile without XLA (`jit_compile=False`): TensorFlow's image
    warp op (`ImageProjectiveTransformV3`, also behind Keras's own geometric
    layers) has no XLA kernel. In `tf.data` this does not matter.

    Args:
        num_ops: N, operations applied in sequence to each image (>= 0).
        magnitude: M, integer in [0, 30].
        interpolation: `"nearest"` (the reference code) or `"bilinear"` for the
            geometric operations.
        ops: Optional subset of `OP_NAMES` to draw from.
        fill_value: Fill of geometric operations, on the [0, 255] scale.
        seed: Integer seed.
        value_range: `(low, high)` pixel range of the inputs.

    Example:
        >>> layer = RandAugment(num_ops=2, magnitude=9, seed=0)
        >>> dataset = dataset.map(lambda x, y: (layer(x), y))
        >>> dataset = dataset.map(layer)   # {"images", "labels"} batches

    Reference:
        Cubuk et al., "RandAugment: Practical automated data augmentation with
        a reduced search space", CVPR Workshops 2020.
    """

    def __init__(
        self,
        num_ops=2,
        magnitude=9,
        interpolation="nearest",
        ops=None,
        fill_value=F.FILL_VALUE,
        seed=None,
        value_range=(0, 255),
        **kwargs,
    ):
        super().__init__(seed=seed, value_range=value_range, **kwargs)
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(
                f"`num_ops` must be an integer >= 0. Received: num_ops={num_ops}"
            )
        if not isinstance(magnitude, int) or not 0 <= magnitude <= MAX_MAGNITUDE:
            raise ValueError(
                f"`magnitude` must be an integer in [0, {MAX_MAGNITUDE}]. "
                f"Received: magnitude={magnitude}"
            )
        names = tuple(ops) if ops is not None else OP_NAMES
        unknown = [n for n in names if n not in OPS]
        if unknown or not names:
            raise ValueError(
                f"`ops` must be a non-empty subset of {list(OP_NAMES)}. "
                f"Received: ops={ops}"
            )
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.interpolation = F.check_interpolation(interpolation)
        self.ops = None if ops is None else list(names)
        self.fill_value = float(fill_value)
        self._branches = [self._branch(name) for name in names]

    def _branch(self, name):
        """Op `name` at this layer's magnitude, held to the op contract.

        Contract: the output has the input's shape, for any batch size. The
        grouped path runs every op on its group, often empty, and what a
        kernel returns for an empty batch depends on the backend and even
        the CPU, so the contract is enforced here rather than assumed: an
        empty group comes back `(0, H, W, C)` whatever the kernels did (no
        elements to move), and a wrong non-empty shape fails in the reshape
        instead of broadcasting later. It also gives every branch of
        `ops.switch` the same static shape.
        """
        fn, geometric = OPS[name]
        args = (self.interpolation, self.fill_value) if geometric else ()

        def branch(images, signs):
            out = fn(images, float(self.magnitude), signs, *args)
            return ops.reshape(out, ops.shape(images))

        return branch

    def draw(self, batch_size):
        """Per-image op indices and signs, each `(batch_size, num_ops)`."""
        shape = (batch_size, self.num_ops)
        indices = keras.random.randint(
            shape, 0, len(self._branches), seed=self.generator
        )
        return indices, signs(shape, self.generator)

    def augment(self, images):
        if self.num_ops == 0:
            return images
        indices, sign = self.draw(ops.shape(images)[0])
        if images.shape[0] == 1:  # one image: run only its drawn branches
            return self._apply_switched(images, indices[0], sign[0])
        if images.shape[1] * images.shape[2] >= GROUPED_MAX_PIXELS:
            # Large images: per-image branch selection beats gathering groups.
            return ops.map(
                lambda args: self._apply_switched(args[0][None], *args[1:])[0],
                (images, indices, sign),
            )
        for slot in range(self.num_ops):
            images = self._apply_grouped(images, indices[:, slot], sign[:, slot])
        return images

    def _apply_switched(self, image, indices, sign):
        """Run op `indices[slot]` on a batch of one, for each slot."""
        for slot in range(self.num_ops):
            image = ops.switch(
                indices[slot], self._branches, image, sign[slot : slot + 1]
            )
        return image

    def _apply_grouped(self, images, indices, sign):
        """Apply op `indices[i]` to image i, running each op once on its group.

        Each op sees only the images that drew it (gathered, possibly none),
        so the cost is one op per image plus a gather and a final re-order.
        Empty groups still run: skipping them with `ops.cond` measured 1.6-2x
        slower in tf.data (batch 32, 32 px, N=2, 2 CPU cores). They are
        correct because every op is shape-exact on an empty batch and
        `_branch` enforces the shape (tests/augment/test_empty_batches.py).
        """
        outputs, positions = [], []
        for k, branch in enumerate(self._branches):
            position = ops.nonzero(ops.equal(indices, k))[0]
            group = ops.take(images, position, axis=0)
            outputs.append(branch(group, ops.take(sign, position)))
            positions.append(position)
        order = ops.argsort(ops.concatenate(positions, axis=0))
        return ops.take(ops.concatenate(outputs, axis=0), order, axis=0)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_ops": self.num_ops,
                "magnitude": self.magnitude,
                "interpolation": self.interpolation,
                "ops": self.ops,
                "fill_value": self.fill_value,
            }
        )
        return config
