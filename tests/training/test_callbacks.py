import glob
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.errors import KzooError
from kzoo.training.callbacks import BackupAndRestore, PlanTensorBoard
from kzoo.training.plan import FitPlan
from tests.training.helpers import max_difference

STEPS = 4


def stream(nan_epoch=None, nan_step=2):
    """Endless batches of 8; with `nan_epoch`, that epoch's `nan_step`-th
    batch holds NaN images."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * 8, 3)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    epochs = []
    for epoch in range(6):
        xe = x.copy()
        if epoch == nan_epoch:
            xe[nan_step * 8:(nan_step + 1) * 8] = np.nan
        epochs.append(tf.data.Dataset.from_tensor_slices((xe, y)).batch(8))
    data = epochs[0]
    for more in epochs[1:]:
        data = data.concatenate(more)
    return data


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    m.compile(keras.optimizers.SGD(0.1),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.model.get_weights()


def test_nan_stops_training_and_keeps_the_last_good_backup(tmp_path):
    backup = BackupAndRestore(str(tmp_path / "backup"))
    recorder = Recorder()
    m = model()
    history = m.fit(stream(nan_epoch=2), epochs=6, steps_per_epoch=STEPS, verbose=0,
                    callbacks=[backup, recorder])
    assert backup.diverged_at == (2, 2)
    assert len(history.history["loss"]) == 3  # stopped in the third epoch
    assert backup.resume_epoch() == 2
    with open(tmp_path / "backup" / "training_metadata.json") as f:
        metadata = json.load(f)
    assert metadata["epoch"] == 2
    kept = model()
    kept.optimizer.build(kept.trainable_variables)
    kept.load_weights(str(tmp_path / "backup" / metadata["weights"]))
    assert max_difference(kept.get_weights(), recorder.weights[1]) == 0.0
    message = backup.divergence_message()
    assert "in epoch 3, step 3" in message
    assert "end of epoch 2" in message and str(tmp_path / "backup") in message


def test_with_a_plan_the_message_counts_steps_and_passes(tmp_path):
    # Checks of 4 steps = 2 passes of 2 steps; NaN in the third check's
    # third step: training step 2 x 4 + 3 = 11, in pass 6.
    plan = FitPlan(steps_per_pass=2, passes=12, steps_per_execution=1,
                   steps_per_epoch=STEPS, epochs=6)
    backup = BackupAndRestore(str(tmp_path / "backup"), plan=plan)
    model().fit(stream(nan_epoch=2), epochs=6, steps_per_epoch=STEPS, verbose=0,
                callbacks=[backup])
    message = backup.divergence_message()
    assert "NaN or infinite in training step 11 (epoch 6)" in message
    assert "(step 8, 4 epochs) is kept in" in message


def test_finite_runs_back_up_and_clean_up_like_keras(tmp_path):
    backup = BackupAndRestore(str(tmp_path / "backup"))
    model().fit(stream(), epochs=3, steps_per_epoch=STEPS, verbose=0,
                callbacks=[backup])
    assert backup.diverged_at is None
    assert not os.path.exists(tmp_path / "backup")


def test_a_kept_backup_outlives_fit_restores_the_end_and_goes_on_remove(tmp_path):
    backup = BackupAndRestore(str(tmp_path / "backup"), keep=True)
    trained = model()
    trained.fit(stream(), epochs=3, steps_per_epoch=STEPS, verbose=0,
                callbacks=[backup])
    assert backup.resume_epoch() == 3  # the finished training, kept
    (tmp_path / "backup" / "notes.txt").write_text("mine")
    again = BackupAndRestore(str(tmp_path / "backup"), keep=True)
    restored = model()
    again.restore(restored)
    assert max_difference(restored.get_weights(), trained.get_weights()) == 0.0
    assert max_difference([v.numpy() for v in restored.optimizer.variables],
                          [v.numpy() for v in trained.optimizer.variables]) == 0.0
    again.remove()
    assert os.listdir(tmp_path / "backup") == ["notes.txt"]  # only kzoo's files
    assert again.resume_epoch() == 0


def test_restart_resumes_at_the_first_unfinished_epoch(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    first = BackupAndRestore(str(tmp_path / "backup"))
    try:
        model().fit(stream(), epochs=4, steps_per_epoch=STEPS, verbose=0,
                    callbacks=[first, Interrupt()])
    except RuntimeError:
        pass
    second = BackupAndRestore(str(tmp_path / "backup"))
    assert second.resume_epoch() == 2
    resumed = model()
    history = resumed.fit(stream().skip(2 * STEPS), epochs=4,
                          steps_per_epoch=STEPS, verbose=0, callbacks=[second])
    assert len(history.history["loss"]) == 2
    whole = model()
    whole.fit(stream(), epochs=4, steps_per_epoch=STEPS, verbose=0)
    assert max_difference(whole.get_weights(), resumed.get_weights()) < 1e-7


class PoisonAt(keras.callbacks.Callback):
    """Sets the weights to NaN at the end of epoch `epoch`, before the
    backup sees them: a state gone bad while the epoch's loss was finite."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.set_weights([np.full_like(w, np.nan)
                                    for w in self.model.get_weights()])


def test_a_non_finite_state_is_never_backed_up(tmp_path):
    backup = BackupAndRestore(str(tmp_path / "backup"))
    recorder = Recorder()
    m = model()
    m.fit(stream(), epochs=4, steps_per_epoch=STEPS, verbose=0,
          callbacks=[recorder, PoisonAt(1), backup])
    assert backup.diverged_at == (1, None)
    assert backup.resume_epoch() == 1
    with open(tmp_path / "backup" / "training_metadata.json") as f:
        kept_path = str(tmp_path / "backup" / json.load(f)["weights"])
    kept = model()
    kept.optimizer.build(kept.trainable_variables)
    kept.load_weights(kept_path)
    assert all(np.isfinite(w).all() for w in kept.get_weights())
    assert max_difference(kept.get_weights(), recorder.weights[0]) == 0.0


def interrupted_backup(tmp_path, config, at=2):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == at:
                raise RuntimeError("interrupted")

    backup = BackupAndRestore(str(tmp_path / "backup"), config=config)
    try:
        model().fit(stream(), epochs=4, steps_per_epoch=STEPS, verbose=0,
                    callbacks=[backup, Interrupt()])
    except RuntimeError:
        pass
    return backup


def test_a_backup_resumes_only_the_run_it_belongs_to(tmp_path):
    interrupted_backup(tmp_path, {"epochs": 4, "lr": 0.1})
    assert BackupAndRestore(str(tmp_path / "backup"),
                            config={"epochs": 4, "lr": 0.1}).resume_epoch() == 2
    with pytest.raises(KzooError, match=r"other settings \(lr: 0.1 -> 0.2\)"):
        BackupAndRestore(str(tmp_path / "backup"), config={"epochs": 4, "lr": 0.2})
    fresh = BackupAndRestore(str(tmp_path / "backup"),
                             config={"epochs": 4, "lr": 0.2}, fresh=True)
    assert fresh.resume_epoch() == 0 and not os.path.exists(tmp_path / "backup")


def test_only_kzoos_own_files_are_removed(tmp_path):
    interrupted_backup(tmp_path, {})
    (tmp_path / "backup" / "mine.txt").write_text("keep me")
    backup = BackupAndRestore(str(tmp_path / "backup"))
    model().fit(stream(), epochs=4, steps_per_epoch=STEPS, verbose=0,
                callbacks=[backup])
    assert os.listdir(tmp_path / "backup") == ["mine.txt"]


def test_a_folder_that_is_not_a_kzoo_backup_is_refused(tmp_path):
    os.makedirs(tmp_path / "backup")
    (tmp_path / "backup" / "latest.weights.h5").write_text("someone else's")
    with pytest.raises(KzooError, match="is not a kzoo backup"):
        BackupAndRestore(str(tmp_path / "backup"))
    assert (tmp_path / "backup" / "latest.weights.h5").read_text() == (
        "someone else's")


def test_what_a_kill_leaves_of_a_first_backup_is_cleaned_not_refused(tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / ".epoch-00001.weights.h5.k3j2.tmp.weights.h5").write_bytes(b"half")
    backup = BackupAndRestore(str(folder))
    assert backup.resume_epoch() == 0 and not folder.exists()
    model().fit(stream(), epochs=2, steps_per_epoch=STEPS, verbose=0,
                callbacks=[backup])
    assert not folder.exists()


class Logs(keras.callbacks.Callback):
    """Adds `values[epoch]` to each epoch's logs (as a model's metric would)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs.update(self.values[epoch])


def test_tensorboard_leaves_an_n_a_rate_out_and_keeps_a_nan_loss(tmp_path):
    plan = FitPlan(steps_per_pass=STEPS, passes=3, steps_per_execution=1,
                   steps_per_epoch=STEPS, epochs=3)
    nan = float("nan")
    values = [{"pseudo_label_accuracy": 0.5, "extra_loss": 1.0},
              {"pseudo_label_accuracy": nan, "extra_loss": 1.0},
              {"pseudo_label_accuracy": 0.75, "extra_loss": nan}]
    model().fit(stream(), epochs=3, steps_per_epoch=STEPS, verbose=0,
                callbacks=[Logs(values), PlanTensorBoard(plan, str(tmp_path))])
    found = {}
    for path in glob.glob(str(tmp_path / "train" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag.startswith("epoch_"):
                    found.setdefault(value.tag, {})[event.step] = float(
                        tf.make_ndarray(value.tensor))
    assert found["epoch_pseudo_label_accuracy"] == {4: 0.5, 12: 0.75}  # a gap at 8
    assert np.isnan(found["epoch_extra_loss"][12])
