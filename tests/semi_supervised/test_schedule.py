import keras
import numpy as np
import pytest

from kzoo.semi_supervised import PseudoLabelModel, UnlabeledWeightSchedule, ramp_weight
from tests.training.helpers import dataset, images_and_labels, student_model


def test_lee_ramp_zero_then_linear_then_flat():
    values = [ramp_weight(t, 3.0, 10, 60) for t in (0, 9, 10, 35, 59, 60, 500)]
    assert values == pytest.approx([0, 0, 0, 1.5, 3 * 49 / 50, 3, 3])


def test_equal_ends_make_a_step():
    assert [ramp_weight(t, 2.0, 5, 5) for t in (4, 5, 6)] == [0, 2, 2]


@pytest.mark.parametrize("t1, t2, final", [(-1, 5, 1.0), (6, 5, 1.0), (0, 5, -1.0)])
def test_invalid_schedule(t1, t2, final):
    with pytest.raises(ValueError, match="t1"):
        ramp_weight(0, final, t1, t2)
    with pytest.raises(ValueError):
        UnlabeledWeightSchedule(final, t1, t2)


def test_callback_sets_the_model_weight_each_epoch():
    x, y = images_and_labels(n=24)
    model = PseudoLabelModel(student_model(), unlabeled_weight=9.0)
    model.compile(keras.optimizers.SGD(0.01))
    history = model.fit(
        dataset(x, y), epochs=4, verbose=0,
        callbacks=[UnlabeledWeightSchedule(2.0, 1, 3)],
    ).history
    np.testing.assert_allclose(history["unlabeled_weight"], [0.0, 0.0, 1.0, 2.0])
    assert float(model.unlabeled_weight.numpy()) == 2.0


class WeightSeen(keras.callbacks.Callback):
    """The unlabelled weight each training step runs with."""

    def __init__(self):
        super().__init__()
        self.values = []

    def on_train_batch_begin(self, batch, logs=None):
        self.values.append(float(self.model.unlabeled_weight.numpy()))


def test_with_steps_per_pass_the_weight_follows_passes_inside_an_epoch():
    x, y = images_and_labels(n=24)
    model = PseudoLabelModel(student_model(), unlabeled_weight=9.0)
    model.compile(keras.optimizers.SGD(0.01))
    seen = WeightSeen()
    # 2 steps a pass, 6 steps (3 passes) per Keras epoch, 2 epochs.
    history = model.fit(
        dataset(x, y).repeat(), epochs=2, steps_per_epoch=6, verbose=0,
        callbacks=[UnlabeledWeightSchedule(2.0, 1, 3, steps_per_pass=2), seen],
    ).history
    assert seen.values == pytest.approx([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
    assert history["unlabeled_weight"] == [1.0, 2.0]


def test_steps_per_pass_below_one_is_refused():
    with pytest.raises(ValueError, match="steps_per_pass"):
        UnlabeledWeightSchedule(1.0, 0, 1, steps_per_pass=0)
