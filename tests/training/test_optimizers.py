import keras
import numpy as np
import pytest

from kzoo.training import LRMultiplierOptimizer, ScaledSchedule
from tests.training.helpers import dataset, images_and_labels, student_model

PATTERN = "(?:.*/)?conv/.*"  # the Sequential student's paths are "student/conv/..."


def _compiled(optimizer, factor=0.1):
    model = student_model()
    opt = LRMultiplierOptimizer(optimizer, {PATTERN: factor})
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, opt


class RecordRates(keras.callbacks.Callback):
    def __init__(self, opt):
        super().__init__()
        self.opt, self.head, self.backbone = opt, [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.head.append(float(self.opt.base_optimizer.learning_rate))
        self.backbone.append(float(self.opt.group_optimizer(PATTERN).learning_rate))


def _updates(model, x, y, steps=1):
    before = [w.copy() for w in model.get_weights()]
    model.fit(dataset(x, y, batch_size=len(x)), epochs=steps, verbose=0)
    return [a - b for a, b in zip(model.get_weights(), before)]


def test_sgd_backbone_moves_at_the_multiplier_of_the_head_rate():
    x, y = images_and_labels(n=16)
    model, _ = _compiled(keras.optimizers.SGD(0.1), factor=0.1)
    with_groups = _updates(model, x, y)
    plain = student_model()
    plain.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    plain_updates = _updates(plain, x, y)
    names = [v.path for v in model.trainable_weights]
    assert names[:2] == ["student/conv/kernel", "student/conv/bias"]
    for name, got, want in zip(names, with_groups, plain_updates):
        factor = 0.1 if "/conv/" in name else 1.0
        assert np.abs(want).max() > 1e-4
        np.testing.assert_allclose(got, factor * want, rtol=1e-4, atol=1e-9)


def test_both_groups_follow_a_schedule_with_their_ratio_kept():
    x, y = images_and_labels(n=16)
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=8)
    model, opt = _compiled(keras.optimizers.Adam(schedule), factor=0.25)
    record = RecordRates(opt)
    model.fit(dataset(x, y, batch_size=4), epochs=2, verbose=0, callbacks=[record])
    want = [float(schedule(step)) for step in range(8)]
    np.testing.assert_allclose(record.head, want, rtol=1e-6)
    np.testing.assert_allclose(record.backbone, 0.25 * np.array(want), rtol=1e-6)
    assert record.head[-1] < 0.2 * record.head[0]  # the schedule really decays


@pytest.mark.parametrize(
    "callback",
    [
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1)),
        keras.callbacks.ReduceLROnPlateau(
            monitor="loss", factor=0.5, patience=0, min_delta=1e9
        ),  # reduce every epoch
    ],
)
def test_lr_callbacks_set_every_group(callback):
    x, y = images_and_labels(n=16)
    model, opt = _compiled(keras.optimizers.Adam(0.1), factor=0.1)
    record = RecordRates(opt)
    model.fit(
        dataset(x, y, batch_size=8), epochs=3, verbose=0, callbacks=[callback, record]
    )
    head = np.array(record.head[::2])  # first batch of each epoch
    assert head[2] < head[0] - 1e-9
    np.testing.assert_allclose(record.backbone[::2], 0.1 * head, rtol=1e-6)


def test_config_and_saved_model_round_trip(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = LRMultiplierOptimizer(keras.optimizers.Adam(schedule), {PATTERN: 0.1})
    restored = LRMultiplierOptimizer.from_config(opt.get_config())
    assert restored.multipliers == {PATTERN: 0.1}
    group = restored.group_optimizer(PATTERN)._learning_rate
    assert isinstance(group, ScaledSchedule) and group.factor == 0.1
    x, y = images_and_labels(n=8)
    model = student_model()
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(dataset(x, y), epochs=1, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert isinstance(loaded.optimizer, LRMultiplierOptimizer)
    assert float(loaded.optimizer.group_optimizer(PATTERN).learning_rate) == (
        pytest.approx(0.1 * float(loaded.optimizer.learning_rate))
    )


def test_empty_multipliers_and_bad_patterns_fail_early():
    with pytest.raises(ValueError, match="at least one group"):
        LRMultiplierOptimizer("adam", {})
    with pytest.raises(Exception):
        LRMultiplierOptimizer("adam", {"(unclosed": 0.1})
