"""The resumable, guarded `fit` every technique trains with, and how a
model is compiled for it."""

import os

import keras

from kzoo import runtime
from kzoo.data import plan_steps
from kzoo.errors import KzooError
from kzoo.run import inputs, progress, tensorboard
from kzoo.run.session import backup_config
from kzoo.training.callbacks import BackupAndRestore
from kzoo.training.wrapper import WrapperModel


def fit(model, config, data, out, epochs=None, train=None, num_train=None,
        extra_callbacks=(), backup="backup", phase="training"):
    """`model.fit` on the run's datasets (one pass per epoch, see `fit_plan`),
    resumable and guarded (see `BackupAndRestore`), shown as one progress
    bar called `phase` (`progress.PhaseProgress`).

    `train` replaces the labelled training stream (an endless batched
    dataset, e.g. labelled + unlabelled batches) whose epoch is `num_train`
    images in batches of --batch-size. The stream must be a function of the
    seed: after an interruption the run restarts at the first unfinished
    epoch and skips the batches the finished epochs used. `backup` names
    this call's backup folder under `out` (one per `fit` call).

    Raises:
        KzooError: --out lacks space, or the loss became NaN/infinite (the
            last good backup is kept).
    """
    runtime.check_output_dir(out, runtime.output_bytes(model))
    tensorboard.log_training_samples(out, data, config)
    if train is None:
        train = inputs.train_dataset(data, config)
    num_train = data.counts["train"] if num_train is None else num_train
    steps_per_epoch, _ = fit_plan(config, num_train)
    limits = dict(validation_steps=1) if config.smoke else {}
    epochs = 1 if config.smoke else (config.epochs if epochs is None else epochs)
    guard = BackupAndRestore(
        os.path.join(out, backup), fresh=config.fresh,
        config=backup_config(config, epochs=epochs,
                             steps_per_epoch=steps_per_epoch, num_train=num_train))
    start = guard.resume_epoch()
    if start:
        progress.say(f"resuming from {guard.backup_dir}: {start} of {epochs} "
                     "epochs done")
        train = train.skip(start * steps_per_epoch)
    bar = progress.PhaseProgress(phase, epochs, steps_per_epoch, start=start)
    # Extra callbacks before the logs: what they add to an epoch's logs
    # (pseudo-label's `unlabeled_weight`) reaches the CSV and TensorBoard.
    history = model.fit(
        train, validation_data=inputs.val_dataset(data, config),
        epochs=epochs, steps_per_epoch=steps_per_epoch,
        callbacks=[guard, *extra_callbacks, *logs(out, append=start > 0), bar],
        verbose=0, shuffle=False, **limits,
    )
    if guard.diverged_at is not None:
        raise KzooError(guard.divergence_message())
    return history


def fit_plan(config, num_train):
    """`(steps_per_epoch, steps_per_execution)`: one pass per epoch (2 steps
    with --smoke) in whole graph executions, see `kzoo.data.plan_steps`."""
    if config.smoke:
        return 2, min(2, config.steps_per_execution)
    return plan_steps(num_train, config.batch_size, config.steps_per_execution)


def make_optimizer(config, num_train):
    """Adam with --lr, constant or cosine-decayed over the whole run."""
    lr = config.lr
    if config.schedule == "cosine":
        steps_per_epoch, _ = fit_plan(config, num_train)
        lr = keras.optimizers.schedules.CosineDecay(
            config.lr, config.epochs * steps_per_epoch)
    return keras.optimizers.Adam(lr)


def compile_model(model, config, num_train, optimizer=None):
    """`make_optimizer` (unless given) + label-smoothed cross-entropy.

    A training wrapper (`Distiller`, `LwFModel`, ...) gets no loss: it has
    its own, with the label smoothing given to its constructor.
    """
    _, steps_per_execution = fit_plan(config, num_train)
    jit_compile, steps_per_execution = runtime.compile_limits(
        config.jit_compile, steps_per_execution)
    loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=config.label_smoothing)
    model.compile(
        optimizer=optimizer or make_optimizer(config, num_train),
        loss=None if isinstance(model, WrapperModel) else loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )


def logs(out, append=False):
    """The logs of a run (`fit` adds the backup and the progress bar): CSV
    (appended to when resuming) and TensorBoard."""
    return [
        keras.callbacks.CSVLogger(os.path.join(out, "training_log.csv"),
                                  append=append),
        keras.callbacks.TensorBoard(os.path.join(out, "logs")),
    ]
