"""`WrapperModel` owns the steps; a subclass writes only `forward`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kzoo.semi_supervised
import kzoo.training
from kzoo.semi_supervised import FixMatchModel, PseudoLabelModel
from kzoo.training import Distiller, LossTerms, LwFModel, WrapperModel
from kzoo.training.wrapper import images_of
from tests.training.helpers import (
    assert_two_replicas_equal_one_device,
    dataset,
    images_and_labels,
    max_difference,
    replica_strategy,
    student_model,
    teacher_model,
)

STEPS = ("train_step", "test_step", "predict_step", "call")


class Plain(WrapperModel):
    """The smallest wrapper: plain cross-entropy training of `network`."""

    def forward(self, x, y, sample_weight=None, training=False):
        logits = self.network(images_of(x), training=training)
        loss = self.weighted(self.hard_label_loss(y, logits), sample_weight)
        return LossTerms({"loss": loss}, logits)


class TwoTerms(WrapperModel):
    """Two terms over different examples, weighted: the objective's sum."""

    LOSS_KEYS = ("first", "rest")

    def forward(self, x, y, sample_weight=None, training=False):
        logits = self.network(images_of(x), training=training)
        ce = self.hard_label_loss(y, logits)
        return LossTerms({"first": ce[:1], "rest": ce[1:]}, logits)

    def objective_weights(self):
        return {"first": 0.5, "rest": 2.0}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_no_wrapper_in_kzoo_writes_its_own_steps():
    assert kzoo.training and kzoo.semi_supervised  # every wrapper imported
    found = [c for c in _subclasses(WrapperModel) if c.__module__.startswith("kzoo")]
    assert {Distiller, LwFModel, PseudoLabelModel, FixMatchModel} <= set(found)
    for cls in found:
        assert "forward" in vars(cls), cls
        own = set(STEPS) & set(vars(cls))
        assert not own, f"{cls.__name__} overrides {sorted(own)}"


def test_a_subclass_with_only_its_loss_trains_evaluates_and_predicts():
    x, y = images_and_labels(n=40)  # batches of 12, the last one 4
    model = Plain(student_model())
    model.compile(keras.optimizers.SGD(0.05), metrics=["accuracy"])
    history = model.fit(dataset(x, y), epochs=2, verbose=0).history
    assert set(history) == {"loss", "accuracy"}
    plain = student_model()
    plain.compile(
        keras.optimizers.SGD(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    plain.fit(dataset(x, y), epochs=2, verbose=0, shuffle=False)
    assert max_difference(plain.get_weights(), model.network.get_weights()) < 1e-6
    ours = model.evaluate(dataset(x, y), return_dict=True, verbose=0)
    theirs = plain.evaluate(dataset(x, y), return_dict=True, verbose=0)
    assert set(ours) == {"loss", "accuracy"}
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"])
    np.testing.assert_allclose(
        model.predict(x, verbose=0), model.network.predict(x, verbose=0), atol=1e-6
    )
    np.testing.assert_allclose(model(x[:3]), model.network(x[:3]), atol=1e-6)


def test_the_loss_is_the_weighted_sum_of_the_objective_terms():
    x, y = images_and_labels(n=6)
    model = TwoTerms(student_model())
    model.compile(keras.optimizers.SGD(0.1))
    logs = model.evaluate(dataset(x, y, 6), return_dict=True, verbose=0)
    ce = keras.losses.sparse_categorical_crossentropy(
        y, model.network(x), from_logits=True
    ).numpy()
    assert logs["first"] == pytest.approx(ce[0], rel=1e-5)
    assert logs["rest"] == pytest.approx(ce[1:].mean(), rel=1e-5)
    assert logs["loss"] == pytest.approx(0.5 * ce[0] + 2.0 * ce[1:].mean(), rel=1e-5)
    # the step descends that sum (each term a mean over its own examples)
    reference = student_model()
    with tf.GradientTape() as tape:
        values = keras.losses.sparse_categorical_crossentropy(
            y, reference(x, training=True), from_logits=True
        )
        loss = 0.5 * values[0] + 2.0 * tf.reduce_mean(values[1:])
    grads = tape.gradient(loss, reference.trainable_variables)
    for var, grad in zip(reference.trainable_variables, grads):
        var.assign(var - 0.1 * grad)
    model.fit(dataset(x, y, 6), epochs=1, verbose=0)
    assert max_difference(model.network.get_weights(), reference.get_weights()) < 1e-6


def test_a_minimal_subclass_on_two_replicas_equals_one_device():
    x, y = images_and_labels(n=40)

    def run(strategy):
        with strategy.scope():
            model = Plain(student_model())
            model.compile(keras.optimizers.SGD(0.05))
        history = model.fit(dataset(x, y), epochs=2, verbose=0).history
        return history, model.network.get_weights()

    assert_two_replicas_equal_one_device(run, ("loss",))


def test_evaluation_with_an_uneven_last_batch_on_two_replicas_is_exact():
    # 43 = 2 x 16 + 11: the last batch splits 6 / 5 over the replicas. The
    # results come from the metrics reduced over replicas, not from the
    # last step's logs averaged per replica; idle trackers (the pseudo-label
    # terms, which evaluation does not compute) are left out.
    x, y = images_and_labels(n=43, seed=3)
    results = []
    for strategy in (tf.distribute.get_strategy(), replica_strategy()):
        with strategy.scope():
            model = PseudoLabelModel(student_model())
            model.compile(keras.optimizers.SGD(0.0), metrics=["accuracy"])
        results.append(model.evaluate(dataset(x, y, batch_size=16), verbose=0,
                                      return_dict=True))
    assert set(results[0]) == {"loss", "labeled_loss", "accuracy"}
    for key, value in results[0].items():
        assert results[1][key] == pytest.approx(value, rel=1e-6), key
    correct = results[0]["accuracy"] * 43
    assert correct == pytest.approx(round(correct))


def test_every_wrapper_serves_network():
    distiller = Distiller(teacher=teacher_model(), student=student_model())
    assert distiller.student is distiller.network  # Keras's name, same model
    with pytest.raises(AttributeError):
        distiller.student = student_model()
    lwf = LwFModel(teacher_model(), num_classes=3)
    pseudo = PseudoLabelModel(student_model())
    for wrapper in (distiller, lwf, pseudo):
        assert isinstance(wrapper.network, keras.Model)
    assert not hasattr(pseudo, "temperature")
    assert distiller.temperature == 3.0 and lwf.temperature == 2.0


def test_a_subclass_without_forward_and_a_bad_network_are_clear_errors():
    x, y = images_and_labels(n=6)
    model = WrapperModel(student_model())
    model.compile(keras.optimizers.SGD(0.1))
    with pytest.raises(NotImplementedError, match="forward"):
        model.fit(dataset(x, y), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="keras.Model"):
        Plain(lambda images: images)
    with pytest.raises(ValueError, match="label_smoothing"):
        Plain(student_model(), label_smoothing=1.0)
