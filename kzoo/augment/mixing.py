"""Label-mixing augmentations on batches: CutMix and MixUp."""

import keras
from keras import ops

from kzoo.augment.base import check_probability, output_shape, repack, unpack


class LabelMixing(keras.layers.Layer):
    """Base for batch augmentations that mix images and their labels.

    Takes what `keras.layers.CutMix` takes: a batch of images `(B, H, W, C)`
    or a dict `{"images": ..., "labels": ...}`, and returns the same
    structure. Images come back float32; labels one-hot (mixed) float32:
    one-hot or soft labels `(B, num_classes)` are mixed as they are, integer
    labels `(B,)` are converted to one-hot with `num_classes` first. Images
    without labels are mixed all the same (as Keras's CutMix does).

    Each image is mixed, with probability `probability`, with a partner from
    a random permutation of the batch; `lam`, the weight of its own label,
    is drawn per image from Beta(alpha, alpha). Identity (apart from the
    one-hot conversion) at `training=False`.

    Args:
        alpha: Beta distribution parameter, > 0.
        probability: Chance that an image is mixed, in [0, 1].
        num_classes: Needed when labels are integers.
        seed: Integer seed.

    Example:
        >>> mix = CutMix(num_classes=10, seed=0)
        >>> out = mix({"images": images, "labels": int_labels})
        >>> out["labels"].shape   # (B, 10), rows sum to 1
    """

    def __init__(
        self, alpha=1.0, probability=1.0, num_classes=None, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        if not alpha > 0:
            raise ValueError(f"`alpha` must be > 0. Received: alpha={alpha}")
        if num_classes is not None and (
            not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(
                "`num_classes` must be a positive integer or None. "
                f"Received: num_classes={num_classes}"
            )
        self.alpha = float(alpha)
        self.probability = check_probability("probability", probability)
        self.num_classes = num_classes
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def one_hot(self, labels):
        labels = ops.convert_to_tensor(labels)
        if len(labels.shape) == 2 and "float" in str(labels.dtype):
            return labels
        if self.num_classes is None:
            raise ValueError(
                f"{type(self).__name__} got integer labels of shape "
                f"{labels.shape}; pass `num_classes` to convert them to "
                "one-hot, or pass one-hot float labels."
            )
        return ops.one_hot(
            ops.cast(ops.reshape(labels, (-1,)), "int32"), self.num_classes
        )

    def draw(self, batch):
        """Partner indices, per-image Beta draws and the apply mask."""
        partner = keras.random.shuffle(ops.arange(batch), seed=self.generator)
        lam = keras.random.beta((batch,), self.alpha, self.alpha, seed=self.generator)
        apply = keras.random.uniform((batch,), seed=self.generator) < self.probability
        return partner, lam, apply

    def call(self, data, training=True):
        images, labels = unpack(data)
        images = ops.cast(ops.convert_to_tensor(images), "float32")
        if labels is not None:
            labels = ops.cast(self.one_hot(labels), "float32")
        if not training:
            return repack(data, images, labels)
        if len(images.shape) != 4:
            raise ValueError(
                f"{type(self).__name__} works on batches (B, H, W, C). "
                f"Received: images.shape={images.shape}"
            )
        partner, lam, apply = self.draw(ops.shape(images)[0])
        images, own_weight = self.mix(
            images, ops.take(images, partner, axis=0), lam, apply
        )
        if labels is not None:
            own_weight = own_weight[:, None]
            labels = own_weight * labels + (1.0 - own_weight) * ops.take(
                labels, partner, axis=0
            )
        return repack(data, images, labels)

    def mix(self, images, partners, lam, apply):
        """Return mixed images and each image's own-label weight `(B,)`."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        def labels_shape(shape):
            classes = self.num_classes if len(shape) == 1 else shape[-1]
            return (shape[0], classes)

        return output_shape(input_shape, lambda shape: shape, labels_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "alpha": self.alpha,
                "probability": self.probability,
                "num_classes": self.num_classes,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kzoo")
class CutMix(LabelMixing):
    """CutMix: paste a box from a partner image; mix labels by pasted area.

    Box side ratio `sqrt(1 - lam)`, centre uniform over the image; the box is
    clipped to the image and rounded to whole pixels, and the label weights
    are the exact fraction of pixels pasted (so a box cut off by the border
    moves less label mass, as in the reference code).

    Reference:
        Yun et al., "CutMix: Regularization Strategy to Train Strong
        Classifiers with Localizable Features", ICCV 2019.
    """

    def mix(self, images, partners, lam, apply):
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        cut = ops.sqrt(1.0 - lam)
        centre_y = keras.random.uniform((batch,), 0, height, seed=self.generator)
        centre_x = keras.random.uniform((batch,), 0, width, seed=self.generator)

        def bounds(centre, size, limit):
            low = ops.clip(ops.round(centre - size / 2.0), 0, limit)
            high = ops.clip(ops.round(centre + size / 2.0), 0, limit)
            return low[:, None], high[:, None]

        y1, y2 = bounds(centre_y, cut * height, height)
        x1, x2 = bounds(centre_x, cut * width, width)
        rows = ops.cast(ops.arange(height), "float32")[None, :]
        cols = ops.cast(ops.arange(width), "float32")[None, :]
        in_rows = (rows >= y1) & (rows < y2)  # (B, H)
        in_cols = (cols >= x1) & (cols < x2)  # (B, W)
        box = in_rows[:, :, None] & in_cols[:, None, :] & apply[:, None, None]
        pasted = ops.mean(ops.cast(box, "float32"), axis=(1, 2))
        return ops.where(box[..., None], partners, images), 1.0 - pasted


@keras.saving.register_keras_serializable(package="kzoo")
class MixUp(LabelMixing):
    """MixUp: `lam * x + (1 - lam) * x_partner`, labels likewise.

    Reference:
        Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
    """

    def mix(self, images, partners, lam, apply):
        weight = ops.where(apply, lam, 1.0)
        w = weight[:, None, None, None]
        return w * images + (1.0 - w) * partners, weight
