import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.errors import KzooError
from kzoo.export import export_saved_model, load_serving_signature
from kzoo.models import create_model
from kzoo.training import LwFModel
from tests.training.helpers import (
    SHAPE,
    assert_two_replicas_equal_one_device,
    images_and_labels,
    max_difference,
    teacher_model,
)

KEYS = ("loss", "new_loss", "old_loss")


def _data(n=36):
    x, y = images_and_labels(n=n, num_classes=3, seed=5)
    return tf.data.Dataset.from_tensor_slices((x, y)), x, y


def _lwf(**kwargs):
    lwf = LwFModel(teacher_model(num_classes=4), num_classes=3, **kwargs)
    return lwf


def _compile(lwf):
    lwf.compile(keras.optimizers.SGD(0.05), metrics=["accuracy"])


def _old_weights(lwf):
    return [
        w.copy()
        for layer in lwf.backbone_layers + lwf.old_head_layers
        for w in layer.get_weights()
    ]


def test_recorded_outputs_are_the_original_old_head():
    old = teacher_model(num_classes=4)
    lwf = LwFModel(old, num_classes=3)
    raw, x, _ = _data(n=10)
    recorded = lwf.record_old_outputs(raw, batch_size=4)
    logits = np.stack(
        [inputs["old_logits"] for inputs, _ in recorded.as_numpy_iterator()]
    )
    np.testing.assert_allclose(logits, np.asarray(old(x)), atol=1e-5)


def test_warmup_keeps_old_parameters_bit_identical_then_joint_moves_them():
    raw, _, _ = _data()
    lwf = _lwf()
    data = lwf.record_old_outputs(raw).batch(12)
    old_before = _old_weights(lwf)
    new_before = [w.copy() for w in lwf.new_head.get_weights()]
    lwf.freeze(backbone=True, old_head=True)
    _compile(lwf)
    history = lwf.fit(data, epochs=2, verbose=0).history
    for before, after in zip(old_before, _old_weights(lwf)):
        np.testing.assert_array_equal(before, after)
    assert max_difference(new_before, lwf.new_head.get_weights()) > 1e-4
    # frozen shared parts: the old head's outputs equal the recording
    assert history["old_loss"][-1] == pytest.approx(0.0, abs=1e-6)
    lwf.freeze(backbone=False, old_head=False)
    _compile(lwf)
    history = lwf.fit(data, epochs=2, verbose=0).history
    assert max_difference(old_before, _old_weights(lwf)) > 1e-5
    for key in KEYS + ("accuracy",):
        assert np.all(np.isfinite(history[key])), key
    assert history["old_loss"][-1] > 0


def test_loss_is_new_task_ce_plus_weighted_distillation():
    raw, x, y = _data(n=12)
    lwf = _lwf(temperature=2.0, old_loss_weight=0.7)
    data = lwf.record_old_outputs(raw).batch(12)
    recorded = next(iter(data))[0]["old_logits"]
    # move the network so the old head drifts from the recording
    lwf.network.get_layer("predictions").kernel.assign(
        lwf.network.get_layer("predictions").kernel * 20.0
    )
    _compile(lwf)
    logs = lwf.evaluate(data, return_dict=True, verbose=0)
    outputs = lwf.network(x)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, outputs["new"])
    p = keras.ops.softmax(recorded / 2.0)
    q = keras.ops.softmax(outputs["old"] / 2.0)
    kl = 4.0 * keras.ops.mean(keras.losses.KLDivergence(reduction=None)(p, q))
    assert logs["new_loss"] == pytest.approx(float(ce), rel=1e-5)
    assert logs["old_loss"] == pytest.approx(float(kl), rel=1e-3)
    assert logs["loss"] == pytest.approx(float(ce) + 0.7 * float(kl), rel=1e-4)


def test_two_replicas_equal_one_device():
    raw, _, _ = _data(n=40)

    def run(strategy):
        with strategy.scope():
            lwf = _lwf()
            _compile(lwf)
        data = lwf.record_old_outputs(raw).batch(12)
        history = lwf.fit(data, epochs=2, verbose=0).history
        return history, lwf.network.get_weights()

    assert_two_replicas_equal_one_device(run, KEYS, atol=1e-7)


def test_training_without_recorded_outputs_is_a_clear_error():
    raw, _, _ = _data(n=12)
    lwf = _lwf()
    _compile(lwf)
    with pytest.raises(KzooError, match="record_old_outputs"):
        lwf.fit(raw.batch(6), epochs=1, verbose=0)
    # evaluation on plain data works: the old loss is then not measured
    logs = lwf.evaluate(raw.batch(6), return_dict=True, verbose=0)
    assert logs["old_loss"] == 0.0 and np.isfinite(logs["new_loss"])


def test_export_serves_both_tasks(tmp_path):
    _, x, _ = _data(n=5)
    lwf = _lwf()
    names = {"old": list("abcd"), "new": ["x", "y", "z"]}
    version = export_saved_model(lwf.network, str(tmp_path / "lwf"), names)
    serve = load_serving_signature(version, "serving_tensors")
    out = serve(images=tf.constant(x))
    want = lwf.network(x)
    for task in ("old", "new"):
        np.testing.assert_allclose(out[f"{task}_logits"].numpy(), want[task], atol=1e-4)
        ids = np.argmax(np.asarray(want[task]), axis=-1)
        assert [c.decode() for c in out[f"{task}_classes"].numpy()] == [
            names[task][i] for i in ids
        ]
    with pytest.raises(ValueError, match="class names for each"):
        export_saved_model(lwf.network, str(tmp_path / "bad"), list("abc"))


def test_dropout_noise_is_not_counted_as_forgetting():
    raw, _, _ = _data(n=24)
    keras.utils.set_random_seed(1)
    old = create_model("lenet5", num_classes=4, input_shape=SHAPE, dropout=0.5)
    lwf = LwFModel(old, num_classes=3)
    assert lwf.stochastic
    data = lwf.record_old_outputs(raw).batch(12)
    lwf.compile(keras.optimizers.SGD(0.0))  # nothing moves: nothing is forgotten
    history = lwf.fit(data, epochs=1, verbose=0).history
    assert history["old_loss"][0] == pytest.approx(0.0, abs=1e-6)
    # the training-mode old head does differ from the recording
    x, _ = next(iter(raw.batch(12)))
    noisy = lwf.network(x, training=True)["old"]
    assert float(keras.ops.max(keras.ops.abs(noisy - lwf.network(x)["old"]))) > 1e-3
