import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.augment import DEFAULT_POLICY, POLICY_TABLE, AugmentPolicy, CutMix, RandomCrop
from kzoo.augment.policy import parse_entry, split_policy
from kzoo.errors import KzooError


def test_split_and_parse():
    assert split_policy("flip, crop,randaugment(n=2,m=9),cutmix(alpha=1.0)") == [
        "flip",
        "crop",
        "randaugment(n=2,m=9)",
        "cutmix(alpha=1.0)",
    ]
    assert parse_entry("randaugment(n=2, m=9)") == ("randaugment", {"n": 2, "m": 9})
    assert parse_entry("rotate90(turns=(0, 2))") == ("rotate90", {"turns": (0, 2)})
    assert parse_entry("flip") == ("flip", {})


def test_issue_example_builds_the_layers_in_order():
    policy = AugmentPolicy(
        "flip,crop,randaugment(n=2,m=9),cutmix(alpha=1.0)", (32, 32), 10, seed=0
    )
    names = [type(layer).__name__ for layer in policy.layers]
    assert names == ["RandomFlip", "RandomCrop", "RandAugment", "CutMix"]
    ra = policy.layers[2]
    assert (ra.num_ops, ra.magnitude, ra.seed) == (2, 9, 2)
    assert policy.layers[3].num_classes == 10 and policy.mixes_labels


@pytest.mark.parametrize(
    "spec,match",
    [
        ("flip,blur", "unknown augmentation 'blur'; valid names: affine, brightness"),
        ("randaugment(q=1)", "no argument 'q'; valid: n, m, "),
        ("randaugment(m=40)", "magnitude"),
        ("crop(2)", "keyword arguments only"),
        ("crop(padding=x)", "argument values"),
        ("cutmix(alpha=1", "unbalanced"),
        ("flip)", "unbalanced"),
    ],
)
def test_errors_say_what_is_valid(spec, match):
    with pytest.raises(KzooError, match=match.replace("(", r"\(")):
        AugmentPolicy(spec, (32, 32), 10)


def test_every_table_entry_builds_and_runs_on_a_batch():
    images = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    labels = np.array([0, 1, 2, 3])
    for name in POLICY_TABLE:
        x, y = AugmentPolicy(name, (16, 16), 4, seed=0)(images, labels)
        assert x.shape == images.shape, name
        np.testing.assert_allclose(np.asarray(y).sum(axis=1), 1.0, atol=1e-6)


def test_none_and_default():
    assert AugmentPolicy("none", (8, 8), 3).layers == []
    assert AugmentPolicy("", (8, 8), 3).layers == []
    default = AugmentPolicy(DEFAULT_POLICY, (32, 32), 10).layers
    assert [type(layer) for layer in default] == [RandomCrop]
    assert (default[0].height, default[0].padding) == (32, 4)


def test_map_fn_in_tf_data_returns_one_hot_mixed_labels():
    images = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 1)).astype("float32")
    policy = AugmentPolicy("crop,randaugment(n=1,m=5),mixup", (16, 16), 5, seed=0)
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(8) % 5)).batch(4)
    for x, y in ds.map(policy.map_fn):
        assert x.shape == (4, 16, 16, 1) and y.shape == (4, 5)
        assert isinstance(policy.layers[-1], keras.layers.Layer)
    assert not isinstance(policy.layers[0], CutMix)
