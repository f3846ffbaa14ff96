"""Mixed precision: wrappers scale their loss; logits and exports stay float32."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo import run
from kzoo.export import SERVING_TENSORS, load_serving_signature
from kzoo.models import create_model
from kzoo.semi_supervised import FixMatchModel, PseudoLabelModel
from kzoo.training import Distiller
from tests.training.helpers import SHAPE, dataset, images_and_labels


@pytest.fixture
def policy():
    """Set a global dtype policy for the test; float32 again afterwards."""
    previous = keras.config.dtype_policy()
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy(previous)


def lenet(seed):
    keras.utils.set_random_seed(seed)
    return create_model("lenet5", num_classes=4, input_shape=SHAPE)


def one_step(wrapper_of, dtype_policy, set_policy):
    """Weights change of one SGD step of a wrapper built under the policy."""
    set_policy(dtype_policy)
    wrapper = wrapper_of()
    wrapper.compile(keras.optimizers.SGD(0.1))
    network = wrapper.network
    before = [w.copy() for w in network.get_weights()]
    x, y = images_and_labels(n=12)
    wrapper.fit(dataset(x, y), epochs=1, verbose=0)
    set_policy("float32")
    return wrapper, [a - b for a, b in zip(network.get_weights(), before)]


@pytest.mark.parametrize("name", ["distiller", "pseudo_label", "fixmatch"])
def test_float16_wrappers_scale_the_loss_and_match_float32_steps(name, policy):
    def wrapper_of():
        if name == "distiller":
            return Distiller(teacher=lenet(1), student=lenet(2), temperature=2.0)
        if name == "fixmatch":
            return FixMatchModel(lenet(2), ema_decay=0.5)
        return PseudoLabelModel(lenet(2), unlabeled_weight=0.0)

    wrapper, mixed = one_step(wrapper_of, "mixed_float16", policy)
    assert isinstance(wrapper.optimizer, keras.optimizers.LossScaleOptimizer)
    _, full = one_step(wrapper_of, "float32", policy)
    # Without `optimizer.scale_loss` the float16 step would be 2**15 times
    # too small (the optimizer divides the gradients by the loss scale).
    for m, f in zip(mixed, full):
        scale = float(np.max(np.abs(f)))
        if scale > 0:
            np.testing.assert_allclose(m, f, atol=0.05 * scale)
    assert sum(float(np.abs(m).sum()) for m in mixed) > 0


def test_mixed_models_return_float32_logits(policy):
    policy("mixed_bfloat16")
    model = lenet(0)
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    logits = model(np.zeros((2,) + SHAPE, "float32"))
    assert logits.dtype == "float32"


@pytest.mark.large
def test_mixed_precision_train_exports_float32_outputs(tmp_path):
    out = str(tmp_path / "run")
    result = run.run("train", mixed_precision=True, epochs=1, labels_per_class=5,
                     out=out)
    assert result.saved_model == os.path.join(out, "1")
    assert keras.config.dtype_policy().name == "float32"  # restored after the run
    model = keras.models.load_model(os.path.join(out, "model.keras"))
    assert model.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"
    serve = load_serving_signature(os.path.join(out, "1"), SERVING_TENSORS)
    result = serve(images=tf.zeros([3, 32, 32, 1]))
    assert result["logits"].dtype == tf.float32
    assert result["probabilities"].dtype == tf.float32
    np.testing.assert_allclose(result["probabilities"].numpy().sum(-1), 1.0,
                               rtol=1e-5)


def test_mixed_wrappers_predict_what_their_network_predicts(policy):
    # The wrapper has no layers of its own: it passes the images on uncast,
    # so a float32 first layer sees float32 pixels (cast to float16 first,
    # the logits here would move by ~0.08).
    policy("mixed_float16")
    keras.utils.set_random_seed(2)
    network = keras.Sequential([
        keras.Input(SHAPE),
        keras.layers.Flatten(dtype="float32"),
        keras.layers.Dense(4, dtype="float32"),
    ])
    wrapper = PseudoLabelModel(network)
    x, _ = images_and_labels(n=6)
    np.testing.assert_array_equal(
        wrapper.predict(x, verbose=0), network.predict(x, verbose=0)
    )
