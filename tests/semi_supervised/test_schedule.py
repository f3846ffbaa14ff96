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
