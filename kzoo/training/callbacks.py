"""`BackupAndRestore`: end-of-epoch backups that resume a killed run, stop on
a non-finite loss, and never touch what kzoo did not write."""

import contextlib
import csv
import json
import math
import os
import re

import keras
import numpy as np

from kzoo.errors import KzooError
from kzoo.outputs import atomic_path, write_json

METADATA_FILE = "training_metadata.json"
MARKER = "kzoo_backup"  # key that proves a metadata file is kzoo's
# Every name this callback writes: weights files, the metadata, and the
# temporary files `atomic_path` makes for them (left behind by a kill).
KZOO_FILES = re.compile(
    r"(epoch-\d{5}\.weights\.h5|training_metadata\.json"
    r"|\.epoch-\d{5}\.weights\.h5\..+\.tmp\.weights\.h5"
    r"|\.training_metadata\.json\..+\.tmp\.json)")


class BackupAndRestore(keras.callbacks.Callback):
    """Keras's `BackupAndRestore` (end-of-epoch backups) + `TerminateOnNaN`,
    made safe for a folder that belongs to a user.

    Like Keras's callback it backs up weights, optimizer state and the epoch
    count at every epoch end, restores them when `fit` starts again (`fit`
    then starts at the first unfinished epoch), and removes the backup when
    `fit` ends (with `keep=True`, when its owner calls `remove()`). Unlike
    it:

    - **Atomic.** Each backup writes a new weights file, then replaces the
      metadata file (`training_metadata.json`, which names the weights file)
      atomically, then removes the previous weights file. The metadata is
      the commit point: a kill at any moment leaves one complete backup.
    - **Owned.** The metadata carries a kzoo marker and the run's `config`.
      A `backup_dir` that exists without kzoo's metadata is refused
      (`KzooError`), never written into, never deleted. At the end only the
      files this callback wrote are removed, and the folder only if it is
      then empty.
    - **Bound to its run.** Resuming from a backup whose `config` differs
      from this run's is an error that names the differences; `fresh=True`
      discards kzoo's backup and starts over.
    - **Finite.** Training stops at the first step whose `loss` is NaN or
      infinite (checked every `steps_per_execution` steps, as Keras logs
      them), recorded in `diverged_at` as `(epoch, step)`; and a state whose
      weights or optimizer variables are not all finite is never backed up
      (training stops there too). After a divergence the last good backup
      is kept, so running the same command again resumes from it.

    What a backup holds: model weights (with kzoo's `Dropout` random state),
    optimizer variables (including the iteration count that drives
    learning-rate schedules) and the number of finished epochs. Not the
    position of the data iterator nor the random state of augmentation
    layers running in `tf.data`: skip `resume_epoch() * steps_per_epoch`
    batches of a stream that is a function of its seed (`kzoo.run.fitting.fit` does).

    Args:
        backup_dir: Folder of this `fit` call's backup (one per call).
        config: JSON-compatible description of the run (flags, epochs, ...);
            a backup resumes only a run with the same config.
        fresh: Discard an existing kzoo backup instead of resuming it.
        plan: The fit's `FitPlan` (a Keras epoch is then a check of several
            passes): messages count passes and steps instead of Keras epochs.
        keep: Keep the backup when `fit` ends; the caller removes it (`remove`)
            once what it makes of the trained model is written, so that a run
            killed after training restores its finished weights instead of
            training again (see `kzoo.run.session.Session`).

    Raises:
        KzooError: `backup_dir` holds files that are not a kzoo backup, or a
            kzoo backup of a run with another config (and not `fresh`).
    """

    def __init__(self, backup_dir, config=None, fresh=False, plan=None,
                 keep=False):
        super().__init__()
        self.backup_dir = backup_dir
        self.plan = plan
        self.keep = keep
        self.config = json.loads(json.dumps(config or {}, default=str))
        self.diverged_at = None
        self._epoch = 0
        self._metadata_path = os.path.join(backup_dir, METADATA_FILE)
        self._metadata = self._read_metadata()
        if self._metadata is not None and fresh:
            self._remove_backup()
            self._metadata = None
        self._check_config()

    # --- what is on disk -------------------------------------------------

    def _read_metadata(self):
        """kzoo's metadata in `backup_dir`, or None (no backup yet, or only
        what a kill left of the first one: removed).

        Raises:
            KzooError: Files that kzoo does not write, without kzoo's
                metadata (someone else's folder).
        """
        if not os.path.exists(self.backup_dir):
            return None
        try:
            with open(self._metadata_path) as f:
                metadata = json.load(f)
        except (OSError, ValueError):
            metadata = None
        if isinstance(metadata, dict) and metadata.get(MARKER):
            return metadata
        foreign = [n for n in os.listdir(self.backup_dir)
                   if not KZOO_FILES.fullmatch(n)]
        if foreign or os.path.exists(self._metadata_path):
            raise KzooError(
                f"{self.backup_dir} exists and is not a kzoo backup; kzoo "
                "neither writes into nor deletes it. Move it, or choose "
                "another --out."
            )
        self._remove_backup()  # a first backup interrupted mid-write
        return None

    def _check_config(self):
        if self._metadata is None:
            return
        check_same_settings(self._metadata.get("config", {}), self.config,
                            f"The backup in {self.backup_dir}")

    def resume_epoch(self):
        """The epoch `fit` will start from: the number of epochs the backup
        has finished (0 without a backup)."""
        return int(self._metadata["epoch"]) if self._metadata else 0

    def restore(self, model):
        """Load the backup (weights and optimizer state) into `model`, whose
        optimizer is built first; nothing without a backup."""
        if self._metadata is None:
            return
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self._weights_path(self._metadata))

    def remove(self):
        """Remove the backup (only the files this callback writes); nothing
        when there is none."""
        if os.path.isdir(self.backup_dir):
            self._remove_backup()
        self._metadata = None

    def _weights_path(self, metadata):
        return os.path.join(self.backup_dir, metadata["weights"])

    def _remove_backup(self):
        """Remove the files this callback writes (`KZOO_FILES`: weights,
        metadata, and temporary files a kill left), the metadata last, then
        the folder if it is empty."""
        names = [n for n in os.listdir(self.backup_dir) if KZOO_FILES.fullmatch(n)]
        for name in sorted(names, key=lambda n: n == METADATA_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(self.backup_dir, name))
        with contextlib.suppress(OSError):  # not empty: someone else's files
            os.rmdir(self.backup_dir)

    # --- Keras hooks -----------------------------------------------------

    def on_train_begin(self, logs=None):
        if self._metadata is None:
            return
        self.restore(self.model)
        self.model._initial_epoch = self.resume_epoch()  # as Keras's callback

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.diverged_at is None and not _finite_loss(logs):
            self.diverged_at = (self._epoch, batch)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged_at is None and not (_finite_loss(logs)
                                             and self._finite_state()):
            self.diverged_at = (epoch, None)
            self.model.stop_training = True
        if self.diverged_at is None:
            self._save(epoch + 1)

    def on_train_end(self, logs=None):
        if self.diverged_at is None and not self.keep:
            self.remove()

    def _finite_state(self):
        variables = list(self.model.weights)
        if self.model.optimizer is not None:
            variables += list(self.model.optimizer.variables)
        return all(
            bool(keras.ops.all(keras.ops.isfinite(v)))
            for v in variables
            if np.issubdtype(np.dtype(keras.backend.standardize_dtype(v.dtype)),
                             np.floating)
        )

    def _save(self, epochs_done):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{epochs_done:05d}.weights.h5"
        with atomic_path(os.path.join(self.backup_dir, name)) as tmp:
            self.model.save_weights(tmp, overwrite=True)
        previous = self._metadata
        self._metadata = {MARKER: 1, "epoch": epochs_done, "weights": name,
                          "config": self.config}
        write_json(self._metadata_path, self._metadata)
        if previous is not None and previous["weights"] != name:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._weights_path(previous))

    def divergence_message(self):
        """One line on where the loss diverged and what was kept."""
        epoch, step = self.diverged_at
        kept = self.resume_epoch()
        if self.plan is None:
            where = f"epoch {epoch + 1}" + (
                "" if step is None else f", step {step + 1}")
            end = f"end of epoch {kept}"
        else:
            steps = self.plan.steps_done(epoch) + (
                self.plan.steps_per_epoch if step is None else step + 1)
            where = (f"training step {steps} (epoch "
                     f"{int(steps // self.plan.steps_per_pass) + 1})")
            end = (f"step {self.plan.steps_done(kept)}, "
                   f"{self.plan.passes_done(kept):g} epochs")
        if kept:
            state = (f"the last good state ({end}) is kept in "
                     f"{self.backup_dir}; running the same command again "
                     "resumes from it")
        else:
            state = "no check finished before it, so there is no backup"
        return (f"The training loss or weights became NaN or infinite in {where}; "
                f"training stopped and {state}. Lower the learning rate (--lr) "
                "or check the data for NaN values.")


def check_same_settings(recorded, config, what):
    """Refuse to resume `what` (recorded with `recorded`) under `config`.

    Raises:
        KzooError: Naming each setting that differs, `key: old -> new`.
    """
    config = json.loads(json.dumps(config, default=str))
    if recorded == config:
        return
    diffs = [f"{key}: {recorded.get(key)!r} -> {config.get(key)!r}"
             for key in sorted(set(recorded) | set(config))
             if recorded.get(key) != config.get(key)]
    raise KzooError(
        f"{what} belongs to a run with other settings ({'; '.join(diffs)}). "
        "Run the same command to resume it, or add --fresh to discard what it "
        "left and start over."
    )


def _is_nan(value):
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _finite_loss(logs):
    value = (logs or {}).get("loss")
    if value is None:
        return True
    return math.isfinite(float(value))


class PlanCSVLogger(keras.callbacks.CSVLogger):
    """Keras's `CSVLogger` for a `FitPlan`'s checks, in the words the
    progress line uses: each row is one check (`check`: checks done), at
    `step` (training steps done) and `epoch` (passes over the data done, a
    float when a check ends inside a pass), then the logs."""

    COLUMNS = ("check", "step", "epoch")

    def __init__(self, plan, filename, append=False):
        super().__init__(filename, append=append)
        self.plan = plan

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.writer is None:
            self.keys = sorted(k for k in logs if k not in self.COLUMNS)
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=[*self.COLUMNS, *self.keys],
                extrasaction="ignore")
            if self.append_header:
                self.writer.writeheader()
        row = dict(check=epoch + 1, step=self.plan.steps_done(epoch + 1),
                   epoch=round(self.plan.passes_done(epoch + 1), 4))
        row.update((k, logs.get(k, "NA")) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()


class PlanTensorBoard(keras.callbacks.TensorBoard):
    """Keras's `TensorBoard` for a `FitPlan`'s checks: the epoch scalars
    (`epoch_loss`, `epoch_val_accuracy`, ...) are written at the training
    step of the check, not at its index, so runs with other --check-every
    or --batch-size values share one x axis per step. A metric other than
    a loss that is NaN (n/a in that check) is left out."""

    def __init__(self, plan, log_dir, **kwargs):
        super().__init__(log_dir, **kwargs)
        self.plan = plan

    def _log_epoch_metrics(self, epoch, logs):
        # A rate that is NaN is n/a in this check (no pseudo-label passed
        # the threshold): a gap in its curve, not a point. A NaN loss is kept.
        logs = {k: v for k, v in (logs or {}).items()
                if k.endswith("loss") or not _is_nan(v)}
        super()._log_epoch_metrics(self.plan.steps_done(epoch + 1), logs)
