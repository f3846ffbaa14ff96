import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.augment import DEFAULT_POLICY, POLICY_TABLE, AugmentPolicy, RandomCrop
from kzoo.augment.policy import build_layer, parse_entry, split_policy
from kzoo.errors import KzooError

MIXING = ("cutmix", "mixup")


def _batch(n=4, size=16, channels=3):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (n, size, size, channels)).astype("float32")


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
    assert [layer.name for layer in policy.layers] == [
        "flip",
        "crop",
        "randaugment",
        "cutmix",
    ]
    ra = policy.layers[2]
    assert (ra.num_ops, ra.magnitude, ra.seed) == (2, 9, 2)
    assert policy.layers[3].num_classes == 10
    assert [layer.name for layer in AugmentPolicy("crop,crop", (8, 8), 2).layers] == [
        "crop",
        "crop_2",
    ]


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


def test_image_size_is_checked():
    with pytest.raises(ValueError, match="image_size"):
        AugmentPolicy("crop", (32,), 10)


@pytest.mark.parametrize("name", sorted(POLICY_TABLE))
def test_every_table_entry_keeps_the_data_contract(name):
    """Images alone or a dict give the same images; only mixers touch labels."""
    images = _batch()
    one_hot = np.eye(4, dtype="float32")[[0, 1, 2, 3]]

    def layer():
        return build_layer(name, {}, (16, 16), num_classes=4, seed=0)

    alone = layer()(images)
    out = layer()({"images": images, "labels": one_hot, "ids": np.arange(4)})
    assert sorted(out) == ["ids", "images", "labels"]
    assert tuple(out["images"].shape) == images.shape == tuple(alone.shape)
    np.testing.assert_allclose(np.asarray(out["images"]), np.asarray(alone), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(out["ids"]), np.arange(4))
    labels = np.asarray(out["labels"])
    if name in MIXING:
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-6)
    else:
        np.testing.assert_array_equal(labels, one_hot)
    inference = layer()({"images": images, "labels": one_hot}, training=False)
    np.testing.assert_allclose(np.asarray(inference["images"]), images, atol=1e-4)


@pytest.mark.large
def test_every_entry_chained_in_tf_data():
    # RandAugment's graph is the slow one to trace; the map_fn test covers it.
    spec = ",".join(name for name in sorted(POLICY_TABLE) if name != "randaugment")
    policy = AugmentPolicy(spec, (16, 16), 4, seed=0)
    ds = tf.data.Dataset.from_tensor_slices((_batch(8), np.arange(8) % 4)).batch(4)
    for x, y in ds.map(policy.map_fn):
        assert x.shape == (4, 16, 16, 3) and y.shape == (4, 4)
        np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, atol=1e-6)
    one_hot = np.eye(4, dtype="float32")[np.arange(8) % 4]
    dicts = tf.data.Dataset.from_tensor_slices({"images": _batch(8), "labels": one_hot})
    for batch in dicts.batch(4).map(policy):
        assert batch["images"].shape == (4, 16, 16, 3)
        assert batch["labels"].shape == (4, 4)


def test_none_and_default():
    assert AugmentPolicy("none", (8, 8), 3).layers == []
    assert AugmentPolicy("", (8, 8), 3).layers == []
    default = AugmentPolicy(DEFAULT_POLICY, (32, 32), 10).layers
    assert [type(layer) for layer in default] == [RandomCrop]
    assert (default[0].height, default[0].padding) == (32, 4)
    images = _batch()
    np.testing.assert_array_equal(
        np.asarray(AugmentPolicy("none", (16, 16), 4)(images)), images
    )


@pytest.mark.large
def test_map_fn_in_tf_data_returns_one_hot_mixed_labels():
    images = _batch(8, channels=1)
    policy = AugmentPolicy("crop,randaugment(n=1,m=5),mixup", (16, 16), 5, seed=0)
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(8) % 5)).batch(4)
    for x, y in ds.map(policy.map_fn):
        assert x.shape == (4, 16, 16, 1) and y.shape == (4, 5)
        assert y.dtype == tf.float32
    # Soft targets (a pseudo-labelled pool) are mixed as they are.
    soft = np.full((8, 5), 0.2, "float32")
    ds = tf.data.Dataset.from_tensor_slices((images, soft)).batch(4)
    for _, y in ds.map(policy.map_fn):
        np.testing.assert_allclose(y.numpy(), 0.2, atol=1e-6)


def test_images_alone_for_an_unlabelled_pool():
    """`policy(x)` augments (and mixes) the images; the pool's labels stay aside."""
    images = _batch(8)
    spec = "flip,crop,cutmix"
    x = AugmentPolicy(spec, (16, 16), 4, seed=3)(images)
    x_y, _ = AugmentPolicy(spec, (16, 16), 4, seed=3).map_fn(images, np.arange(8) % 4)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x_y))
    pool = tf.data.Dataset.from_tensor_slices((images, -np.ones(8, "int32"))).batch(4)
    policy = AugmentPolicy(spec, (16, 16), 4, seed=3)
    for x, y in pool.map(lambda x, y: (policy(x), y)):
        assert x.shape == (4, 16, 16, 3)
        np.testing.assert_array_equal(y.numpy(), -1)


def test_a_second_positional_argument_says_how_to_call_it():
    policy = AugmentPolicy("crop", (16, 16), 4)
    with pytest.raises(TypeError, match="map_fn"):
        policy(_batch(), np.arange(4))


def test_integer_labels_without_num_classes_is_a_clear_error():
    with pytest.raises(ValueError, match="num_classes"):
        AugmentPolicy("crop", (16, 16), None).map_fn(_batch(), np.arange(4))


def test_identity_at_inference():
    spec = ",".join(sorted(POLICY_TABLE))
    policy = AugmentPolicy(spec, (16, 16), 4, seed=0)
    images = _batch()
    np.testing.assert_allclose(
        np.asarray(policy(images, training=False)), images, atol=1e-4
    )
    out = policy({"images": images, "labels": np.eye(4)}, training=False)
    np.testing.assert_allclose(np.asarray(out["labels"]), np.eye(4))


def test_config_round_trip():
    policy = AugmentPolicy("flip,randaugment(n=1,m=5),cutmix", (16, 12), 4, seed=2)
    config = policy.get_config()
    assert {k: config[k] for k in ("spec", "image_size", "num_classes", "seed")} == {
        "spec": "flip,randaugment(n=1,m=5),cutmix",
        "image_size": [16, 12],
        "num_classes": 4,
        "seed": 2,
    }
    rebuilt = AugmentPolicy.from_config(config)
    assert rebuilt.get_config() == config
    assert [layer.get_config() for layer in rebuilt.layers] == [
        layer.get_config() for layer in policy.layers
    ]
    registered = keras.saving.get_registered_name(AugmentPolicy)
    assert registered == "kzoo>AugmentPolicy"


@pytest.mark.large
def test_a_model_with_the_policy_inside_saves_and_loads(tmp_path):
    spec = "flip,crop,randaugment(n=2,m=9)"
    inputs = keras.Input((16, 16, 3))
    x = AugmentPolicy(spec, (16, 16), 3, seed=0, name="augment")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    model.compile("sgd", loss, jit_compile=False)  # no XLA kernel for the warp op
    images = _batch(6)
    model.fit(images, np.eye(3)[np.arange(6) % 3], epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    policy = restored.get_layer("augment")
    assert isinstance(policy, AugmentPolicy)
    assert policy.get_config() == model.get_layer("augment").get_config()
    # As JSON: Keras's own build configs come back with lists for tuples.
    assert json.dumps(restored.get_config(), sort_keys=True) == json.dumps(
        model.get_config(), sort_keys=True
    )
    assert [type(layer) for layer in policy.layers] == [
        type(layer) for layer in model.get_layer("augment").layers
    ]
    np.testing.assert_allclose(  # inference: the policy is the identity
        restored.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5
    )
    # Keras saves no seed-generator state: the draws start again from the seed.
    fresh = AugmentPolicy.from_config(policy.get_config())
    np.testing.assert_array_equal(np.asarray(policy(images)), np.asarray(fresh(images)))
