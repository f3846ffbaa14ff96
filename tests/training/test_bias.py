import numpy as np
import pytest

from kzoo.training.bias import add_class_bias, bias_shift_for_share
from tests.training.helpers import student_model


def test_shift_reaches_the_target_share_on_hand_made_logits():
    # class 2 needs +1, +2, +3, +4 to win on each of the four examples
    logits = np.array(
        [[3.0, 0.0, 2.0], [0.0, 4.0, 2.0], [5.0, 0.0, 2.0], [0.0, 6.0, 2.0]]
    )
    assert bias_shift_for_share(logits, 2, 0.0) == 0.0
    for share, needed in [(0.25, 1.0), (0.5, 2.0), (1.0, 4.0)]:
        shift = bias_shift_for_share(logits, 2, share)
        assert shift == pytest.approx(needed, abs=1e-6)
        shifted = logits.copy()
        shifted[:, 2] += shift + 1e-9
        assert np.mean(shifted.argmax(1) == 2) == share


def test_add_class_bias_moves_one_logit():
    model = student_model()
    x = np.zeros((2, 16, 16, 1), "float32")
    before = np.asarray(model(x))
    add_class_bias(model, 1, 2.5)
    after = np.asarray(model(x))
    np.testing.assert_allclose(after - before, [[0, 2.5, 0, 0]] * 2, atol=1e-6)
