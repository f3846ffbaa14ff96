"""Train a registered model with `model.fit` and export it for TF Serving.

    python recipes/train.py                       # LeNet-5 on bundled digits
    python recipes/train.py --model vgg11_bn --width 0.25 --data DIR --epochs 30

Writes to --out (default saved_models/<model>-<data>): config.json,
metrics.json, confusion_matrix.png, model.keras, training_log.csv,
logs/ (TensorBoard) and the SavedModel in the next version folder (1/, 2/...).

Every recipe built on this one runs under `--strategy` (see kzoo.runtime:
--batch-size is the global batch), backs up each epoch to --out/backup and
resumes from it when the same command runs again, stops with the last good
backup kept when the loss turns NaN, and checks --out before training.
"""

import argparse
import contextlib
import inspect
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kzoo import cli, runtime  # noqa: E402
from kzoo.analysis import classification_report, plot_confusion_matrix  # noqa: E402
from kzoo.augment import DEFAULT_POLICY, AugmentPolicy  # noqa: E402
from kzoo.data import batched, load_data, one_hot_labels, plan_steps  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.export import export_saved_model  # noqa: E402
from kzoo.models import create_model, get_model_entry  # noqa: E402
from kzoo.outputs import OutputLock, save_keras  # noqa: E402
from kzoo.training.callbacks import BackupAndRestore, check_same_settings  # noqa: E402
from kzoo.training.wrapper import WrapperModel  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_data_flags(p)
    p.add_argument("--model", default="lenet5")
    p.add_argument("--width", type=cli.positive_float, default=1.0,
                   help="filter/unit multiplier")
    p.add_argument("--epochs", type=cli.positive_int, default=30)
    p.add_argument("--batch-size", type=cli.positive_int, default=16)
    p.add_argument("--lr", type=cli.positive_float, default=1e-3,
                   help="Adam learning rate")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning-rate schedule over the whole run")
    p.add_argument("--label-smoothing", type=cli.rate, default=0.1)
    p.add_argument("--dropout", type=cli.rate, default=0.5,
                   help="dropout after hidden FC layers, for models that have them")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--labels-per-class", type=cli.positive_int, default=None)
    budget.add_argument("--label-fraction", type=cli.fraction, default=None)
    p.add_argument("--val-fraction", type=cli.rate, default=0.1)
    p.add_argument("--augment", default="none",
                   help=f"augmentation policy, e.g. 'default' (= '{DEFAULT_POLICY}'), "
                        "'flip,crop,randaugment(n=2,m=9),cutmix(alpha=1.0)' or 'none'")
    p.add_argument("--input-size", type=cli.positive_int, default=None,
                   help="square image size (default: the model's)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None,
                   help="default: the data's own")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction,
                   default=True,
                   help="XLA-compile the train step (Keras's 'auto' leaves XLA off "
                        "on CPU; with --steps-per-execution, LeNet-5 trains 1.9-2.2x "
                        "faster here, see benchmarks/)")
    p.add_argument("--steps-per-execution", type=cli.positive_int, default=32,
                   help="train steps per graph call (the progress bar updates "
                        "every N steps)")
    p.add_argument("--out", default=None)
    p.add_argument("--smoke", action="store_true",
                   help="wiring check: 1 epoch of 2 steps, small test; writes "
                        "to --out/smoke, never a version TF Serving would load")
    add_runtime_flags(p)
    return p


def add_runtime_flags(p):
    """--strategy, --deterministic, --mixed-precision (see `session`)."""
    p.add_argument("--strategy", choices=runtime.STRATEGIES, default="default",
                   help="tf.distribute strategy: one device; 'mirrored' (all "
                        "GPUs of this machine); 'multiworker' (the cluster in "
                        "TF_CONFIG; run the same command on every worker); "
                        "'tpu'. --batch-size stays the global batch")
    p.add_argument("--deterministic", action="store_true",
                   help="seed everything and enable TensorFlow op determinism "
                        "(bit-identical reruns on CPU; slower on GPU)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="mixed_float16 on GPU, mixed_bfloat16 on CPU; logits "
                        "and exported outputs stay float32")
    p.add_argument("--fresh", action="store_true",
                   help="discard kzoo's backups in --out (of an interrupted run, "
                        "perhaps with other flags) and train from the start")


def runtime_argv(args):
    """The runtime flags of `args` as command-line arguments."""
    argv = ["--strategy", args.strategy]
    return argv + [flag for flag, on in (("--deterministic", args.deterministic),
                                         ("--mixed-precision", args.mixed_precision))
                   if on]


SMOKE_DIR = "smoke"
# In --out while a run is in progress (kept if it is interrupted): the
# settings of the run, so that a run with other flags is refused before it
# writes or retrains anything.
RUN_MARKER = ".kzoo-run.json"


def run_dir(out, smoke):
    """Where a run given `--out out` writes: `out`, or `out/smoke` for a
    `--smoke` run, so that a wiring check never overwrites a real run's
    files nor adds a version folder that TF Serving, watching `out`, would
    serve (it only loads numbered folders)."""
    return os.path.join(out, SMOKE_DIR) if smoke else out


class Session:
    """One recipe run under its strategy: where this process writes."""

    def __init__(self, strategy, args):
        self.strategy = strategy
        self.args = args
        self.scratch = []
        self.locks = []
        self.markers = []

    def output_dir(self, out):
        """`run_dir(out)` on the chief; a scratch folder of it (removed when
        the run succeeds) on the other workers. Checked writable, locked (one
        run at a time) and claimed for this run's settings now, before
        anything else is written.

        Raises:
            KzooError: Not writable, in use, or holding an interrupted run
                with other settings (without --fresh).
        """
        out = run_dir(out, getattr(self.args, "smoke", False))
        path = runtime.worker_dir(out, self.strategy)
        runtime.check_output_dir(path)
        self.locks.append(OutputLock(path))
        self._claim(path)
        if path != out:
            self.scratch.append(path)
        return path

    def _claim(self, path):
        marker = os.path.join(path, RUN_MARKER)
        config = backup_config(self.args)
        if os.path.exists(marker) and not self.args.fresh:
            with open(marker) as f:
                recorded = json.load(f)["config"]
            check_same_settings(recorded, config, f"The interrupted run in {path}")
        cli.write_json(marker, {"kzoo_run": 1, "config": config})
        self.markers.append(marker)

    def close(self, succeeded):
        if succeeded:
            for marker in self.markers:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(marker)
        for lock in self.locks:
            lock.release()


@contextlib.contextmanager
def session(args):
    """Enter --strategy's scope with --deterministic and --mixed-precision
    applied (the dtype policy is restored at exit); yields a `Session`."""
    with runtime.run_scope(args.strategy, args.mixed_precision,
                           args.deterministic, args.seed) as strategy:
        replicas = strategy.num_replicas_in_sync
        if replicas > 1:
            print(f"strategy {args.strategy}: {replicas} replicas "
                  f"({runtime.task_name(strategy)}); global batch "
                  f"{args.batch_size}, about {args.batch_size / replicas:g} "
                  "per replica")
        run = Session(strategy, args)
        succeeded = False
        try:
            yield run
            succeeded = True
        finally:
            run.close(succeeded)
    for path in run.scratch:
        shutil.rmtree(path, ignore_errors=True)


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    with session(args) as run:
        return train(args, run)


def train(args, run):
    size = input_size(args)
    make_policy(args.augment, (size, size), None, args.seed)  # fail before loading data
    data = load_training_data(args, size)
    model = build_model(args, data)  # an unusable --input-size fails here
    out = run.output_dir(
        args.out or os.path.join("saved_models", f"{args.model}-{data.name}"))
    describe_data(data)
    write_config(args, data, out, input_size=size)
    compile_model(model, args, data.counts["train"])
    fit(model, args, data, out)
    metrics, version_dir = finish(model, args, data, out)
    print(f"test accuracy {metrics['test_accuracy']:.4f} on "
          f"{metrics['num_examples']} images; SavedModel: {version_dir}")
    return 0


DEMO_DATA = "digits"


def demo_budget(args, labels_per_class):
    """The label budget of a semi-supervised recipe, said in its first line.

    The bundled digits are fully labelled, so a demo there hides labels:
    `labels_per_class` per class unless --labels-per-class/--label-fraction
    says otherwise. Any other data (a folder, TFDS) keeps every label it
    has unless a budget flag is given: a user's labels are never dropped
    silently.
    """
    if args.labels_per_class is not None:
        print(f"labels: {args.labels_per_class} per class (--labels-per-class); "
              "the rest of the training split joins the unlabelled pool")
    elif args.label_fraction is not None:
        print(f"labels: {args.label_fraction:g} of each class (--label-fraction); "
              "the rest of the training split joins the unlabelled pool")
    elif args.data == DEMO_DATA:
        print(f"labels: {labels_per_class} per class, the demo budget of the "
              f"bundled {DEMO_DATA} (--labels-per-class or --label-fraction "
              "sets another)")
        return cli.copy_args(args, labels_per_class=labels_per_class)
    else:
        print("labels: every labelled training image (no --labels-per-class or "
              "--label-fraction); the unlabelled pool is the data's own")
    return args


def describe_data(data):
    print(f"data '{data.name}': {data.counts} images, {data.num_classes} classes, "
          f"shape {data.image_shape}; skipped files: {len(data.skipped_files)}")
    cli.print_skipped(data)


def write_config(args, data, out, **extra):
    """The resolved flags and data facts as `out/config.json`.

    `--config out/config.json` replays the run: the flags are recorded as
    given or resolved (`channels`, and flags among `extra` such as
    `input_size`; `out` as the user gave it) and the facts (`class_names`,
    `counts`, `output_dir`, the rest of `extra`) are listed as such (see
    `cli.record_config`).
    """
    os.makedirs(out, exist_ok=True)
    flags = dict(vars(args), channels=data.image_shape[-1])
    flags.update((k, v) for k, v in extra.items() if k in flags)
    facts = {k: v for k, v in extra.items() if k not in flags}
    config = cli.record_config(flags, class_names=data.class_names,
                               counts=data.counts, output_dir=out, **facts)
    cli.write_json(os.path.join(out, "config.json"), config)


def fit(model, args, data, out, epochs=None, train=None, num_train=None,
        extra_callbacks=(), backup="backup"):
    """`model.fit` on the run's datasets (one pass per epoch, see `fit_plan`),
    resumable and guarded (see `callbacks`).

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
    if train is None:
        train = train_dataset(data, args)
    num_train = data.counts["train"] if num_train is None else num_train
    steps_per_epoch, _ = fit_plan(args, num_train)
    limits = dict(validation_steps=1) if args.smoke else {}
    epochs = 1 if args.smoke else (args.epochs if epochs is None else epochs)
    guard = BackupAndRestore(
        os.path.join(out, backup), fresh=args.fresh,
        config=backup_config(args, epochs=epochs, steps_per_epoch=steps_per_epoch,
                             num_train=num_train))
    start = guard.resume_epoch()
    if start:
        print(f"resuming from {guard.backup_dir}: {start} of {epochs} epochs done")
        train = train.skip(start * steps_per_epoch)
    history = model.fit(
        train, validation_data=val_dataset(data, args),
        epochs=epochs, steps_per_epoch=steps_per_epoch,
        callbacks=[guard] + callbacks(out, append=start > 0) + list(extra_callbacks),
        verbose=2 if args.smoke else "auto", shuffle=False, **limits,
    )
    if guard.diverged_at is not None:
        raise KzooError(guard.divergence_message())
    return history


# Flags that do not change what a run computes, so a backup resumes across
# them: how it was started (--fresh, a --config file or the same flags) and
# where it writes (the backup lives there).
NOT_IN_BACKUP_CONFIG = ("fresh", "config", "out")


def backup_config(args, **plan):
    """What a backup records of its run, and a resumed run must match."""
    config = {k: v for k, v in vars(args).items() if k not in NOT_IN_BACKUP_CONFIG}
    return dict(config, **plan)


def finish(model, args, data, out):
    """Score on the test split, write metrics, plot, `.keras`, SavedModel.

    Returns:
        `(metrics, version_dir)`.
    """
    metrics = evaluate(model, test_dataset(data, args), data.class_names)
    metrics["skipped_files"] = len(data.skipped_files)
    metrics["skipped_file_paths"] = data.skipped_files
    metrics["weights_sha256"] = runtime.weights_digest(model)
    if runtime.is_multi_worker():
        print(f"{runtime.task_name()}: weights sha256 {metrics['weights_sha256']}")
    cli.write_json(os.path.join(out, "metrics.json"), metrics)
    plot_confusion_matrix(metrics["confusion_matrix"], data.class_names,
                          os.path.join(out, "confusion_matrix.png"))
    save_keras(model, os.path.join(out, "model.keras"))
    version_dir = export_saved_model(model, out, data.class_names)
    record_with_version(out, version_dir)
    return metrics, version_dir


def input_size(args):
    """--input-size, or the model's default square size."""
    return args.input_size or get_model_entry(args.model).default_input_shape[0]


def load_training_data(args, size):
    """The data spec with this run's budget, splits and seed."""
    return load_data(
        args.data, image_size=(size, size), channels=args.channels,
        labels_per_class=args.labels_per_class, label_fraction=args.label_fraction,
        val_fraction=args.val_fraction, seed=args.seed,
        data_dir=args.data_dir, download=args.download, classes=args.classes,
    )


def load_data_for_model(args, trained, **overrides):
    """The data at a trained model's input size and channels.

    Returns:
        `(args, data)`: the flags with `input_size`/`channels` (and
        `overrides`) set as used, and the loaded `DataSplits`.
    """
    height, _, channels = trained.input_shape[1:]
    args = cli.copy_args(args, input_size=height, channels=channels, **overrides)
    return args, load_training_data(args, height)


def make_datasets(data, args):
    """Train (endless, shuffled, augmented, one-hot; see `fit_plan`), val
    (one-hot) and test (integer labels), batched."""
    return train_dataset(data, args), val_dataset(data, args), test_dataset(data, args)


def train_dataset(data, args):
    """The labelled training split: endless, shuffled, `train_map`-ped."""
    return batched(data.train, args.batch_size, training=True, seed=args.seed,
                   map_fn=train_map(data, args), repeat=True)


def train_map(data, args):
    """The batch map of labelled training data: --augment, or one-hot."""
    policy = make_policy(args.augment, data.image_shape[:2], data.num_classes,
                         args.seed)
    return policy.map_fn if policy.layers else one_hot_labels(data.num_classes)


def val_dataset(data, args):
    """The validation split, batched with one-hot labels (None without one)."""
    if data.val is None:
        return None
    return batched(data.val, args.batch_size, map_fn=one_hot_labels(data.num_classes))


def test_dataset(data, args):
    """The test split, batched with integer labels (2 batches with --smoke)."""
    test = batched(data.test, args.batch_size)
    return test.take(2) if args.smoke else test


def make_policy(spec, image_size, num_classes, seed):
    """The `--augment` policy ('default' names DEFAULT_POLICY)."""
    spec = DEFAULT_POLICY if spec == "default" else spec
    return AugmentPolicy(spec, image_size, num_classes, seed=seed)


def fit_plan(args, num_train):
    """`(steps_per_epoch, steps_per_execution)`: one pass per epoch (2 steps
    with --smoke) in whole graph executions, see `kzoo.data.plan_steps`."""
    if args.smoke:
        return 2, min(2, args.steps_per_execution)
    return plan_steps(num_train, args.batch_size, args.steps_per_execution)


def make_optimizer(args, num_train):
    """Adam with --lr, constant or cosine-decayed over the whole run."""
    lr = args.lr
    if args.schedule == "cosine":
        steps_per_epoch, _ = fit_plan(args, num_train)
        lr = keras.optimizers.schedules.CosineDecay(args.lr,
                                                    args.epochs * steps_per_epoch)
    return keras.optimizers.Adam(lr)


def compile_model(model, args, num_train, optimizer=None):
    """`make_optimizer` (unless given) + label-smoothed cross-entropy.

    A training wrapper (`Distiller`, `LwFModel`) gets no loss: it has its
    own, with the label smoothing given to its constructor.
    """
    _, steps_per_execution = fit_plan(args, num_train)
    jit_compile, steps_per_execution = runtime.compile_limits(
        args.jit_compile, steps_per_execution)
    loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=args.label_smoothing
    )
    model.compile(
        optimizer=optimizer or make_optimizer(args, num_train),
        loss=None if isinstance(model, WrapperModel) else loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )


def build_model(args, data):
    """`args.model` for `data`, built now so that an input size the model
    cannot take (VGG's five poolings need 32 px) fails before any output
    is written.

    Raises:
        KzooError: The model cannot be built at this input shape.
    """
    kwargs = {"num_classes": data.num_classes, "input_shape": data.image_shape}
    params = inspect.signature(get_model_entry(args.model).builder).parameters
    for name in ("width", "dropout"):
        if name in params or "kwargs" in params:
            kwargs[name] = getattr(args, name)
    try:
        model = create_model(args.model, **kwargs)
    except (ValueError, TypeError) as err:
        if isinstance(err, KzooError):
            raise
        raise KzooError(
            f"{args.model} cannot be built for images of shape "
            f"{data.image_shape} (--input-size, --channels): "
            f"{cli.first_line(err)}") from None
    check_pooling_inputs(model, args.model)
    return model


def check_pooling_inputs(model, name):
    """Refuse an input so small that a pooling stage gets less than its
    window (VGG builds from 1 px, but a 1x1 map pooled five times is not
    a classifier of images).

    Raises:
        KzooError: Naming the first such pooling layer.
    """
    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    for layer in model.layers:
        if isinstance(layer, pooling):
            height, width = layer.input.shape[1:3]
            window = max(layer.pool_size)
            if min(height, width) < window:
                raise KzooError(
                    f"Images of {model.input_shape[1]}x{model.input_shape[2]} px "
                    f"are too small for {name}: its layer {layer.name} would pool "
                    f"a {height}x{width} map with a {window}x{window} window. Use "
                    "a larger --input-size (default: "
                    f"{get_model_entry(name).default_input_shape[0]}).")


def callbacks(out, append=False):
    """The logs of a run (`fit` adds the backup): CSV (appended to when
    resuming) and TensorBoard."""
    return [
        keras.callbacks.CSVLogger(os.path.join(out, "training_log.csv"),
                                  append=append),
        keras.callbacks.TensorBoard(os.path.join(out, "logs")),
    ]


def evaluate(model, test, class_names, output=None):
    """Classification report on `test` (batched, in a fixed order); `output`
    picks a dict-output model's task.

    One `predict` call over the split: a `predict_on_batch` per batch traces
    again for the last, partial batch of every model scored, and TensorFlow
    warns about the retracing.
    """
    y_true = np.concatenate([y for _, y in test.as_numpy_iterator()])
    logits = model.predict(test.map(images_only), verbose=0)
    if output is not None:
        logits = logits[output]
    report = classification_report(y_true, np.argmax(logits, axis=-1), class_names)
    report["test_accuracy"] = report.pop("accuracy")
    return report


def images_only(x, y):
    return x


def record_with_version(out, version_dir):
    """Keep this run's config and metrics inside its version folder too."""
    extra = os.path.join(version_dir, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    for name in ("config.json", "metrics.json"):
        shutil.copy(os.path.join(out, name), os.path.join(extra, name))


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
