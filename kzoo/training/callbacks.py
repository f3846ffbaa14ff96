"""`BackupAndRestore` that also stops on a non-finite loss and keeps the
last good state."""

import json
import math
import os

import keras


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore` (end-of-epoch backups) + `TerminateOnNaN`.

    Keras's callback backs up weights, optimizer state and the epoch count
    at every epoch end, restores them when `fit` starts again, and deletes
    the backup when `fit` ends. Combined with `TerminateOnNaN` that loses
    the run: the epoch in which the loss turns NaN still ends with a backup
    of the NaN weights, then `fit` ends normally and the backup is deleted.
    This callback instead:

    - stops training at the first step whose `loss` is NaN or infinite
      (checked every `steps_per_execution` steps, as Keras logs them) and
      records where in `diverged_at` (`(epoch, step)`);
    - never backs up a non-finite state, and keeps the backup (the end of
      the last good epoch) when training diverged, so that running the same
      command again resumes from it.

    What the backup holds: model weights (with kzoo's `Dropout` random
    state), optimizer variables (including the iteration count that drives
    learning-rate schedules) and the number of finished epochs. What it
    does not hold: the position of the data iterator and the random state
    of augmentation layers running in `tf.data`. A kill in mid-epoch loses
    that epoch's steps; the run resumes at the start of the epoch, and the
    data must then start at the same point: skip `resume_epoch() *
    steps_per_epoch` batches of a stream that is a function of its seed
    (kzoo's recipes do; the skipped batches also advance the augmentation
    random state exactly as the uninterrupted run did).

    Args:
        backup_dir: Folder of this `fit` call's backup (one per call).
        **kwargs: `keras.callbacks.BackupAndRestore` arguments.
    """

    def __init__(self, backup_dir, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.diverged_at = None
        self._epoch = 0

    def resume_epoch(self):
        """The epoch `fit` will start from: the number of epochs the backup
        has finished (0 without a backup)."""
        if not os.path.exists(self._training_metadata_path):
            return 0
        with open(self._training_metadata_path) as f:
            return int(json.load(f)["epoch"])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.diverged_at is None and not _finite_loss(logs):
            self.diverged_at = (self._epoch, batch)
            self.model.stop_training = True
        if self.diverged_at is None:
            super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged_at is None and not _finite_loss(logs):
            self.diverged_at = (epoch, None)
            self.model.stop_training = True
        if self.diverged_at is None:
            super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self.diverged_at is None:
            super().on_train_end(logs)

    def divergence_message(self):
        """One line on where the loss diverged and what was kept."""
        epoch, step = self.diverged_at
        where = f"epoch {epoch + 1}" + ("" if step is None else f", step {step + 1}")
        kept = self.resume_epoch()
        if kept:
            state = (f"the last good state (end of epoch {kept}) is kept in "
                     f"{self.backup_dir}; running the same command again "
                     "resumes from it")
        else:
            state = "no epoch finished before it, so there is no checkpoint"
        return (f"The training loss became NaN or infinite in {where}; training "
                f"stopped and {state}. Lower the learning rate (--lr) or check "
                "the data for NaN values.")


def _finite_loss(logs):
    value = (logs or {}).get("loss")
    if value is None:
        return True
    return math.isfinite(float(value))
