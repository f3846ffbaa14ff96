"""The resumable, guarded `fit` every technique trains with, and how a
model is compiled for it."""

import os

import keras

from kzoo import runtime
from kzoo.errors import KzooError
from kzoo.run import inputs, progress, session, tensorboard
from kzoo.run.session import backup_config
from kzoo.training.callbacks import BackupAndRestore, PlanCSVLogger, PlanTensorBoard
from kzoo.training.plan import FitPlan, plan_fit, plan_steps
from kzoo.training.wrapper import WrapperModel


def fit(model, config, data, out, epochs=None, train=None, num_train=None,
        extra_callbacks=(), backup="backup", phase="training", samples=True):
    """`model.fit` on the run's datasets for `epochs` passes (default
    --epochs), checked every --check-every steps (see `fit_plan`),
    resumable and guarded (see `BackupAndRestore`), shown as one progress
    bar called `phase` (`progress.PhaseProgress`).

    A check (a Keras epoch) validates, backs up, writes a CSV row (with
    the training step and the passes done) and the TensorBoard scalars (at
    that step). `train` replaces the labelled
    training stream (an endless batched dataset, e.g. labelled +
    unlabelled batches) whose pass is `num_train` images in batches of
    --batch-size. The stream must be a function of the seed: after an
    interruption the run restarts at the first unfinished check and skips
    the batches the finished checks used. `backup` names this call's backup
    folder under `out` (one per `fit` call).

    Inside a `session` the backup outlives the `fit` (the session removes
    it once the run has written everything): when it holds the finished
    training, as after a kill in the test, the plots or the export, the
    finished weights are restored and nothing trains.

    Returns:
        Keras's `History`, or None when the training had finished before.

    Raises:
        KzooError: --out lacks space, or the loss became NaN/infinite (the
            last good backup is kept).
    """
    runtime.check_output_dir(out, runtime.output_bytes(model))
    num_train = data.counts["train"] if num_train is None else num_train
    plan = fit_plan(config, num_train, epochs)
    if plan.steps_per_epoch % model.steps_per_execution:
        raise ValueError(
            f"The model was compiled for {model.steps_per_execution} steps per "
            f"execution, which does not divide this fit's {plan.steps_per_epoch} "
            "steps per check: compile it with `compile_model(..., epochs=)` "
            "of this fit.")
    limits = dict(validation_steps=1) if config.smoke else {}
    guard = backup_guard(config, out, backup, plan, num_train)
    start = guard.resume_epoch()
    if start >= plan.epochs:
        guard.restore(model)
        progress.say(f"{phase}: training finished before "
                     f"({progress.length(plan)}); its weights restored from "
                     f"{guard.backup_dir}")
        return None
    if samples:
        tensorboard.log_training_samples(out, data, config)
    if train is None:
        train = inputs.train_dataset(data, config)
    if start:
        progress.say(f"resuming from {guard.backup_dir}: "
                     f"{progress.done(plan, start)} of {progress.length(plan)} "
                     "done")
        train = train.skip(plan.steps_done(start))
    validation = inputs.val_dataset(data, config) if data.counts.get("val") else None
    if validation is None and not start and data.test is not None:
        progress.say(f"{phase}: no validation split: the lines below are "
                     "training loss and accuracy only; the test split, at the "
                     "end, is the first measure of how well it generalises")
    bar = progress.PhaseProgress(phase, plan, start=start)
    # Extra callbacks before the logs: what they add to an epoch's logs
    # (pseudo-label's `unlabeled_weight`) reaches the CSV and TensorBoard.
    history = model.fit(
        train, validation_data=validation,
        epochs=plan.epochs, steps_per_epoch=plan.steps_per_epoch,
        callbacks=[guard, *extra_callbacks,
                   *logs(out, plan, append=start > 0), bar],
        verbose=0, shuffle=False, **limits,
    )
    if guard.diverged_at is not None:
        raise KzooError(guard.divergence_message())
    return history


def backup_guard(config, out, backup, plan, num_train):
    """The `BackupAndRestore` of a `fit` into `out/backup`; inside a
    `session`, kept by it until the run has written everything."""
    owner = session.current()
    guard = BackupAndRestore(
        os.path.join(out, backup), fresh=config.fresh, plan=plan,
        config=backup_config(config, num_train=num_train, **plan.to_dict()),
        keep=owner is not None)
    if owner is not None:
        owner.keep_backup(guard)
    return guard


def fit_plan(config, num_train, epochs=None):
    """The `FitPlan` of `epochs` passes (default --epochs, or a command's
    --steps budget when --epochs is not set) over `num_train` images in
    batches of --batch-size: --steps-per-execution and --check-every, see
    `kzoo.training.plan`. --smoke: one check of 2 steps.
    """
    if config.smoke:
        return FitPlan(2, 1, min(2, config.steps_per_execution), 2, 1)
    if epochs is None and config.epochs is None:
        return plan_steps(num_train, config.batch_size, config.steps,
                          config.steps_per_execution, config.check_every)
    epochs = config.epochs if epochs is None else epochs
    return plan_fit(num_train, config.batch_size, epochs,
                    config.steps_per_execution, config.check_every)


def make_optimizer(config, num_train, epochs=None):
    """Adam with --lr, constant or cosine-decayed over the whole run."""
    lr = config.lr
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            config.lr, fit_plan(config, num_train, epochs).total_steps)
    return keras.optimizers.Adam(lr)


def compile_model(model, config, num_train, optimizer=None, epochs=None):
    """`make_optimizer` (unless given) + label-smoothed cross-entropy, for
    a `fit` of `epochs` passes (default --epochs) over `num_train` images:
    its steps per graph call come from that plan.

    A training wrapper (`Distiller`, `LwFModel`, ...) gets no loss: it has
    its own, with the label smoothing given to its constructor.
    """
    jit_compile, steps_per_execution = runtime.compile_limits(
        config.jit_compile, fit_plan(config, num_train, epochs).steps_per_execution)
    loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=config.get("label_smoothing", 0.0))
    model.compile(
        optimizer=optimizer or make_optimizer(config, num_train, epochs),
        loss=None if isinstance(model, WrapperModel) else loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )


def logs(out, plan, append=False):
    """The logs of a run (`fit` adds the backup and the progress bar): CSV
    (appended to when resuming) and TensorBoard, one entry per check at
    its training step (`PlanCSVLogger`, `PlanTensorBoard`)."""
    return [
        PlanCSVLogger(plan, os.path.join(out, "training_log.csv"), append=append),
        PlanTensorBoard(plan, os.path.join(out, "logs")),
    ]
