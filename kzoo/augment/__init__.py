"""Augmentation layers: Keras preprocessing layers that run inside `tf.data`.

One data contract, Keras's own (`keras.layers.RandomFlip`,
`keras.layers.CutMix`): every layer takes a batch of float images
`(B, H, W, C)` in [0, 255] (see each layer's `value_range`; per-image
layers also take one image `(H, W, C)`) or a dict
`{"images": ..., "labels": ...}`, and returns the same structure. Per-image
layers pass labels through; label-mixing layers (CutMix, MixUp) mix images
and one-hot labels. At `training=False` images pass unchanged (size-changing
layers take their central crop; mixing layers still one-hot integer
labels). `AugmentPolicy`, itself a layer, chains the entries of a policy
string.
"""

from kzoo.augment.cutout import Cutout
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
    "Cutout",
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
