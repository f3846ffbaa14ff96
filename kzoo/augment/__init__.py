"""Augmentation layers: Keras preprocessing layers that run inside `tf.data`.

Per-image layers take `(H, W, C)` or `(B, H, W, C)` float images in
[0, 255] (see each layer's `value_range`) and are identity at
`training=False`; label-mixing layers take and return `(images, labels)`
batches. `AugmentPolicy` builds a pipeline from a policy string.
"""

from kzoo.augment.geometric import (
    RandomAffine,
    RandomCrop,
    RandomResizedCrop,
    RandomRotate90,
)
from kzoo.augment.mixing import CutMix, MixUp
from kzoo.augment.policy import DEFAULT_POLICY, POLICY_TABLE, AugmentPolicy
from kzoo.augment.randaugment import OP_NAMES, OPS, RandAugment

__all__ = [
    "AugmentPolicy",
    "CutMix",
    "DEFAULT_POLICY",
    "MixUp",
    "OP_NAMES",
    "OPS",
    "POLICY_TABLE",
    "RandAugment",
    "RandomAffine",
    "RandomCrop",
    "RandomResizedCrop",
    "RandomRotate90",
]
