"""Augmentation policies: `"crop,randaugment(n=2,m=9),cutmix(alpha=1.0)"`.

A policy is a comma-separated list of table entries, each optionally called
with keyword arguments (Python literals). `AugmentPolicy` is a Keras layer
that chains the entries in the order given. Like each entry it takes a
batch of images `(B, H, W, C)` with pixel values in [0, 255], or a dict
`{"images": ..., "labels": ...}`, and returns the same structure;
label-mixing entries (cutmix, mixup) also mix the one-hot labels.
"""

import ast
import inspect
import numbers

import keras

from kzoo.augment.base import IMAGES, LABELS, repack, unpack
from kzoo.augment.cutout import Cutout
from kzoo.augment.geometric import (
    RandomAffine,
    RandomCrop,
    RandomResizedCrop,
    RandomRotate90,
)
from kzoo.augment.mixing import CutMix, MixUp
from kzoo.augment.randaugment import RandAugment
from kzoo.errors import KzooError

# Pad-and-crop (padding 1/8 of the side), chosen on validation accuracy for
# LeNet-5 on digits with 10 labels per class and 150 epochs against no
# augmentation and crop + RandAugment (docs/results/augment_defaults.csv):
# RandAugment needs longer training than a 100-image budget gets here;
# `kzoo search` tunes it on top of crop. No flip: it changes the class of
# digits and text.
DEFAULT_POLICY = "crop"


def _size(ctx):
    return {"height": ctx["image_size"][0], "width": ctx["image_size"][1]}


def _pad_and_crop(ctx):
    return dict(_size(ctx), padding=max(1, ctx["image_size"][0] // 8))


# name -> (layer class, defaults(context) -> kwargs, argument aliases)
POLICY_TABLE = {
    "flip": (keras.layers.RandomFlip, lambda ctx: {"mode": "horizontal"}, {}),
    "rotate90": (RandomRotate90, lambda ctx: {}, {}),
    "rotate": (
        keras.layers.RandomRotation,
        lambda ctx: {"factor": 15 / 360, "fill_mode": "constant"},
        {},
    ),
    "brightness": (
        keras.layers.RandomBrightness,
        lambda ctx: {"factor": 0.2, "value_range": (0, 255)},
        {},
    ),
    "crop": (RandomCrop, _pad_and_crop, {}),
    "center_crop": (keras.layers.CenterCrop, _size, {}),
    "resized_crop": (RandomResizedCrop, _size, {}),
    "affine": (RandomAffine, lambda ctx: {}, {}),
    "shear": (
        keras.layers.RandomShear,
        lambda ctx: {"x_factor": 0.2, "y_factor": 0.2, "fill_mode": "constant"},
        {},
    ),
    "perspective": (keras.layers.RandomPerspective, lambda ctx: {"scale": 0.3}, {}),
    "cutout": (Cutout, lambda ctx: {}, {}),
    "randaugment": (RandAugment, lambda ctx: {}, {"n": "num_ops", "m": "magnitude"}),
    "cutmix": (CutMix, lambda ctx: {"num_classes": ctx["num_classes"]}, {}),
    "mixup": (MixUp, lambda ctx: {"alpha": 0.2, "num_classes": ctx["num_classes"]}, {}),
}


def split_policy(spec):
    """Split at top-level commas: `"a,b(x=1,y=2)"` -> `["a", "b(x=1,y=2)"]`."""
    items, depth, current = [], 0, ""
    for char in spec:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise KzooError(f"unbalanced ')' in augmentation policy {spec!r}")
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    if depth != 0:
        raise KzooError(f"unbalanced '(' in augmentation policy {spec!r}")
    items.append(current.strip())
    return [item for item in items if item]


def parse_entry(text):
    """`"randaugment(n=2, m=9)"` -> `("randaugment", {"n": 2, "m": 9})`."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise KzooError(
            f"cannot parse augmentation {text!r}; expected name or name(key=value, ...)"
        ) from None
    if isinstance(node, ast.Name):
        return node.id, {}
    if (
        not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name))
        or node.args
    ):
        raise KzooError(
            f"cannot parse augmentation {text!r}; expected name or "
            "name(key=value, ...) with keyword arguments only"
        )
    try:
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
    except ValueError:
        raise KzooError(
            f"augmentation {text!r}: argument values must be numbers, "
            "strings, booleans or tuples"
        ) from None
    return node.func.id, kwargs


def _accepted(cls):
    names = []
    for klass in cls.__mro__:
        if klass is keras.layers.Layer:
            break
        names += [
            p
            for p in inspect.signature(klass.__init__).parameters
            if p not in ("self", "kwargs", "args")
        ]
    return sorted(set(names) | {"name"})


def build_layer(name, kwargs, image_size, num_classes=None, seed=None):
    """Instantiate one table entry with its defaults overridden by `kwargs`."""
    if name not in POLICY_TABLE:
        raise KzooError(
            f"unknown augmentation {name!r}; valid names: "
            f"{', '.join(sorted(POLICY_TABLE))} (or 'none')"
        )
    cls, defaults, aliases = POLICY_TABLE[name]
    accepted = _accepted(cls)
    resolved = defaults({"image_size": image_size, "num_classes": num_classes})
    for key, value in kwargs.items():
        key = aliases.get(key, key)
        if key not in accepted:
            raise KzooError(
                f"augmentation {name!r} has no argument {key!r}; valid: "
                f"{', '.join(list(aliases) + accepted)}"
            )
        resolved[key] = value
    if "seed" in accepted and seed is not None:
        resolved.setdefault("seed", seed)
    try:
        return cls(**resolved)
    except (ValueError, TypeError) as err:
        raise KzooError(f"augmentation {name!r}: {err}") from None


def build_layers(spec, image_size, num_classes=None, seed=None):
    """The layers of policy `spec`, in order; `[]` for `""` or `"none"`.

    Entry i is seeded `seed + i` and named after its table entry (`crop`,
    `randaugment`, a repeat `crop_2`) unless its arguments name it.
    """
    spec = spec or "none"
    entries = [] if spec.strip() == "none" else split_policy(spec)
    layers, seen = [], {}
    for i, text in enumerate(entries):
        name, kwargs = parse_entry(text)
        seen[name] = seen.get(name, 0) + 1
        kwargs.setdefault("name", name if seen[name] == 1 else f"{name}_{seen[name]}")
        layer_seed = None if seed is None else seed + i
        layers.append(build_layer(name, kwargs, image_size, num_classes, layer_seed))
    return layers


def _check_image_size(image_size):
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else ()
    if len(size) != 2 or not all(
        isinstance(s, numbers.Integral) and s > 0 for s in size
    ):
        raise ValueError(
            "`image_size` must be (height, width), two positive integers. "
            f"Received: image_size={image_size}"
        )
    return tuple(int(s) for s in size)


@keras.saving.register_keras_serializable(package="kzoo")
class AugmentPolicy(keras.layers.Layer):
    """A policy string as one Keras layer: its entries chained in order.

    Takes what every entry takes (the contract of Keras's image
    preprocessing layers, see `kzoo.augment.base`): a batch of images
    `(B, H, W, C)` or a dict `{"images": ..., "labels": ...}`, and returns
    the same structure. Per-image entries pass labels through; label-mixing
    entries (cutmix, mixup) mix them, so labels must be one-hot or, with
    `num_classes`, integers. Three ways to call it:

    - `policy.map_fn(x, y)`, a `tf.data` batch map: `(x, y) -> (x', y')`
      with `y'` one-hot float32 (integer `y` converted first, one-hot or
      soft `y` kept) and mixed by the mixing entries;
    - `policy({"images": x, "labels": y})`: the same, labels as given;
    - `policy(x)`, images only (an unlabelled pool: keep its labels aside,
      `policy(x), y`). Mixing entries still mix the images, as
      `keras.layers.CutMix` does without labels; there is no label to
      follow the pasted area, so use this only where the targets come from
      the augmented images themselves.

    At `training=False` every entry runs in inference mode, which is the
    identity for every entry that keeps the image size (all table
    defaults); an entry that changes it (`center_crop(height=24, width=24)`)
    gives its inference output, so shapes match training. Saved in a model,
    the config (spec, image size, classes, seed) rebuilds the same entries;
    their random streams start again from the seed (Keras saves no
    seed-generator state, for any layer).

    Args:
        spec: Policy string; `""` or `"none"` is the empty policy.
        image_size: `(height, width)` of the images it will see.
        num_classes: Number of classes, for integer labels (None: one-hot
            labels only).
        seed: Base seed; entry i gets `seed + i`.
        **kwargs: Base layer arguments (`name`, ...).

    Raises:
        KzooError: The spec does not parse or names an unknown entry or
            argument.

    Example:
        >>> policy = AugmentPolicy("crop,randaugment(n=2,m=9)", (32, 32), 10, seed=0)
        >>> train = train.map(policy.map_fn)   # (x, int y) -> (x', one-hot y)
        >>> pool = pool.map(lambda x, y: (policy(x), y))   # y untouched
    """

    def __init__(self, spec, image_size, num_classes, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec or "none"
        self.image_size = _check_image_size(image_size)
        self.num_classes = num_classes
        self.seed = seed
        self.layers = build_layers(self.spec, self.image_size, num_classes, seed)

    def build(self, input_shape):
        images_shape, _ = unpack(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(images_shape)
            images_shape = unpack(layer.compute_output_shape(images_shape))[0]
        self.built = True

    def __call__(self, data, *args, **kwargs):
        if args:  # the pre-layer `policy(images, labels)`
            raise TypeError(
                "AugmentPolicy takes one input: images, or a dict "
                '{"images": ..., "labels": ...}; for (images, labels) pairs '
                "use `policy.map_fn(images, labels)`. Received "
                f"{1 + len(args)} positional arguments."
            )
        return super().__call__(data, **kwargs)

    def call(self, data, training=True):
        for layer in self.layers:
            data = layer(data, training=training)
        return data

    def map_fn(self, images, labels):
        """For `tf.data.Dataset.map` on batches: `(x, y) -> (x', one-hot y')`."""
        out = self({IMAGES: images, LABELS: self.one_hot(labels)}, training=True)
        return out[IMAGES], out[LABELS]

    def one_hot(self, labels):
        """Integer labels `(B,)` as one-hot float32; `(B, C)` labels as float32."""
        labels = keras.ops.convert_to_tensor(labels)
        if len(labels.shape) == 2:
            return keras.ops.cast(labels, "float32")
        if self.num_classes is None:
            raise ValueError(
                f"{self!r} got integer labels of shape {labels.shape}; pass "
                "`num_classes` to convert them to one-hot, or pass one-hot labels."
            )
        return keras.ops.one_hot(keras.ops.cast(labels, "int32"), self.num_classes)

    def compute_output_shape(self, input_shape):
        images_shape, _ = unpack(input_shape)
        for layer in self.layers:
            images_shape = unpack(layer.compute_output_shape(images_shape))[0]
        return repack(input_shape, images_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "spec": self.spec,
                "image_size": list(self.image_size),
                "num_classes": self.num_classes,
                "seed": self.seed,
            }
        )
        return config

    def __repr__(self):
        return f"AugmentPolicy({self.spec!r})"
