"""Both serving signatures answer an empty batch with empty outputs
(issue 25, item 14)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.export import SERVING_DEFAULT, SERVING_TENSORS, export_saved_model
from kzoo.models import create_model


def _conv_model_with_two_tasks():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, {"old": keras.layers.Dense(2)(x),
                                "new": keras.layers.Dense(5)(x)})


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A LeNet-5 (two convolutions) and a two-task model, exported and reloaded."""
    base = tmp_path_factory.mktemp("export")
    keras.utils.set_random_seed(0)
    lenet = create_model("lenet5", num_classes=3, input_shape=(16, 16, 3))
    single = export_saved_model(lenet, str(base / "lenet"), ["a", "b", "c"])
    tasks = export_saved_model(_conv_model_with_two_tasks(), str(base / "tasks"),
                               {"old": ["x", "y"], "new": list("pqrst")})
    return (lenet, tf.saved_model.load(single), tf.saved_model.load(tasks))


EMPTY_BATCHES = {
    SERVING_DEFAULT: [tf.zeros([0], tf.string)],
    SERVING_TENSORS: [tf.zeros([0, 16, 16, 3]), tf.zeros([0, 40, 7, 1]),
                      tf.zeros([0, 0, 0, 4])],
}


def _expected(prefix, num_classes):
    return {prefix + "logits": ([0, num_classes], tf.float32),
            prefix + "probabilities": ([0, num_classes], tf.float32),
            prefix + "class_ids": ([0], tf.int64),
            prefix + "classes": ([0], tf.string)}


@pytest.mark.large
@pytest.mark.parametrize("name", [SERVING_DEFAULT, SERVING_TENSORS])
def test_an_empty_batch_answers_empty_outputs(exports, name):
    _, single, tasks = exports
    cases = [(single, _expected("", 3)),
             (tasks, {**_expected("old_", 2), **_expected("new_", 5)})]
    for loaded, expected in cases:
        serve = loaded.signatures[name]
        # the signature still declares [None, num_classes] outputs
        declared = {key: spec.shape.as_list()
                    for key, spec in serve.structured_outputs.items()}
        assert declared == {key: [None, *shape[1:]]
                            for key, (shape, _) in expected.items()}
        for batch in EMPTY_BATCHES[name]:
            out = serve(images=batch)
            assert {key: (value.shape.as_list(), value.dtype)
                    for key, value in out.items()} == expected


def test_a_batch_after_an_empty_one_is_served_as_before(exports):
    lenet, single, _ = exports
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    serve = single.signatures[SERVING_TENSORS]
    serve(images=tf.zeros([0, 16, 16, 3]))
    out = serve(images=tf.constant(x))
    np.testing.assert_allclose(out["logits"], lenet(x, training=False), atol=1e-4)
    encoded = [tf.io.encode_png(tf.cast(image, tf.uint8)) for image in x.round()]
    out = single.signatures[SERVING_DEFAULT](images=tf.stack(encoded))
    np.testing.assert_allclose(out["logits"], lenet(x.round(), training=False),
                               atol=1e-4)
