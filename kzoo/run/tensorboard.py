"""What a run shows in TensorBoard besides the epoch scalars of `fit`.

Keras's `TensorBoard` callback writes `out/logs/train` and
`out/logs/validation`; this module adds, under the same `out/logs`:

- `run/`: `training_samples` (a grid of the labelled training images after
  --augment, once per `fit`), `confusion_matrix` (the test split's, at the
  end) and the scalar `test_accuracy`;
- `rounds/` (and `rounds_no_noise/` with --ablate-noise): Noisy Student's
  per-round scalars `rounds/<key>` at step = round (0 = the teacher);
- `logs/` itself: the run's options as hparams (one hparams session per
  run folder, whose metrics are the scalars of its sub-folders).

Every function writes where the run's own logs go (`out` is the worker's
folder under multi-worker training, see `kzoo.runtime.worker_dir`).
"""

import contextlib
import hashlib
import io
import json
import os
import struct

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from tensorboard.plugins.image import metadata as image_metadata

from kzoo.augment import DEFAULT_POLICY
from kzoo.run import inputs
from kzoo.training.wrapper import images_of

LOGS = "logs"
RUN = "run"  # images and the final scalar of the run
SAMPLE_IMAGES = 8
SAMPLE_COLUMNS = 4
ROUND_KEYS = ("pseudo_labeled", "pseudo_examples", "pseudo_label_accuracy",
              "teacher_val_accuracy", "val_accuracy", "test_accuracy")
_last_grid = {}  # {images, policy and seed: (title, PNG)}, see log_training_samples


@contextlib.contextmanager
def _writing(out, run=RUN):
    """Summaries inside the block go to `out/logs/<run>` (`run=""`: `out/logs`)."""
    writer = tf.summary.create_file_writer(os.path.join(out, LOGS, run))
    try:
        with writer.as_default():
            yield
    finally:
        writer.close()


def log_png(out, tag, png, description=None, run=RUN):
    """One PNG (encoded bytes) as the image `tag` at step 0.

    Written as the image plugin stores it (`[width, height, png]`, the
    layout of `tf.summary.image`) without decoding and encoding it again:
    5 ms instead of 0.1 s.
    """
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    metadata = image_metadata.create_summary_metadata(
        display_name=tag, description=description or "")
    with _writing(out, run):
        tf.summary.write(tag, tf.constant([str(width), str(height), png]), step=0,
                         metadata=metadata)


def log_confusion_matrix(out, path):
    """The confusion matrix `finish` plotted to `path` (a PNG)."""
    with open(path, "rb") as f:
        log_png(out, "confusion_matrix", f.read(),
                description="Test split; rows = true class, columns = predicted.")


def log_training_samples(out, data, config, count=SAMPLE_IMAGES):
    """The first `count` labelled training images after the run's batch map
    (`inputs.train_map`: --augment, label mixing within the batch) as one
    grid `training_samples`, each image titled with its top labels.

    The map runs eagerly on one batch, with a policy of its own: no second
    trace of the policy's graph (seconds for RandAugment), and the training
    stream and its random draws are not touched. The last grid is kept:
    the same images, policy and seed (Noisy Student's students) give the
    same grid, written again without running the policy (0.3-0.6 s eagerly
    for RandAugment). Examples that are not images (the cached features a
    head trains on, see `kzoo.run.transfer`) are not drawn.
    """
    first = next(iter(data.train.batch(count)), None)
    if first is None or len(images_of(first[0]).shape) != 4:
        return
    x, y = first
    key = (data.name, tuple(data.class_names), config.augment, config.seed,
           hashlib.sha256(b"".join(np.asarray(t).tobytes()
                                   for t in tf.nest.flatten((x, y)))).hexdigest())
    if key not in _last_grid:
        x, y = inputs.train_map(data, config)(x, y)
        spec = DEFAULT_POLICY if config.augment == "default" else config.augment
        title = (f"{data.name}: training images, no augmentation (--augment none)"
                 if spec in (None, "", "none") else
                 f"{data.name}: training images after --augment {spec}")
        png = grid_png(np.asarray(images_of(x)), np.asarray(y), data.class_names,
                       title)
        _last_grid.clear()
        _last_grid[key] = title, png
    title, png = _last_grid[key]
    log_png(out, "training_samples", png, description=title)


def grid_png(images, labels, class_names, title, columns=SAMPLE_COLUMNS):
    """Images (0-255, `[N, H, W, C]`) tiled in rows of `columns`, each
    titled with its label (one-hot or mixed `[N, classes]`, see
    `label_text`): PNG bytes.

    One axes for the whole grid: a tenth of the time of a subplot per image.
    """
    n, height, width, channels = images.shape
    rows, gap, pad = -(-n // columns), height // 3 + 2, 2
    cell_h, cell_w = height + gap, width + pad
    grid = np.full((rows * cell_h + pad, columns * cell_w + pad, channels), 255,
                   "uint8")
    fig = Figure(figsize=(1.4 * columns, 1.5 * rows + 0.3))  # no pyplot state
    ax = fig.add_axes((0, 0, 1, 0.92))
    for i, (image, label) in enumerate(zip(images, labels)):
        top, left = (i // columns) * cell_h + gap, (i % columns) * cell_w + pad
        grid[top:top + height, left:left + width] = np.clip(image, 0, 255)
        if label.ndim == 1 and len(label) == len(class_names):
            ax.text(left + width / 2, top - 1, label_text(label, class_names),
                    ha="center", va="bottom", fontsize=7)
    grey = channels == 1
    ax.imshow(grid[..., 0] if grey else grid, cmap="gray" if grey else None,
              vmin=0, vmax=255, interpolation="nearest")
    ax.axis("off")
    fig.suptitle(title, fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def log_round(out, row, noised=True):
    """Noisy Student's report row of one round as scalars `rounds/<key>` at
    step = `row["round"]`, in `logs/rounds` (`logs/rounds_no_noise` for the
    --ablate-noise loop); keys the row lacks or leaves None are skipped."""
    with _writing(out, "rounds" if noised else "rounds_no_noise"):
        for key in ROUND_KEYS:
            if row.get(key) is not None:
                tf.summary.scalar(f"rounds/{key}", row[key], step=row["round"])


def log_hparams(out, config, test_accuracy):
    """The run's options as hparams (in `logs`) and `test_accuracy` as a
    scalar (in `logs/run`), the metric of the hparams table.

    The options are those of `out/config.json` as recorded (resolved
    values; `command` too), else `config`'s; see `hparam_values`.
    """
    # Imported here: the hparams API costs 0.1 s, paid only by a run's end.
    from tensorboard.plugins.hparams import api as hp

    with _writing(out):
        tf.summary.scalar("test_accuracy", test_accuracy, step=0)
    with _writing(out, ""):
        hp.hparams(hparam_values(recorded_options(config, out)))


def recorded_options(config, out):
    """The options of `out/config.json` (facts left out but `command`),
    else `config.to_dict()`."""
    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        return dict(config.to_dict(), command=config.command.name)
    with open(path) as f:
        recorded = json.load(f)
    marker = recorded.get("kzoo_recorded", ())
    facts = set(marker if isinstance(marker, list) else ()) - {"command"}
    return {k: v for k, v in recorded.items()
            if k not in facts and k != "kzoo_recorded"}


def hparam_values(options):
    """Options as hparams values: numbers, strings and bools as they are,
    lists as comma-separated strings, dicts as JSON; None left out."""
    values = {}
    for name, value in sorted(options.items()):
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        if value is not None:
            values[name] = value
    return values


def label_text(label, class_names):
    """`'3'` for a one-hot label, `'3 0.62 / 8 0.38'` for a mixed one (the
    titles of a sample grid: TensorBoard's and `kzoo augment-preview`'s)."""
    order = np.argsort(label)[::-1]
    top = [i for i in order[:2] if label[i] > 1e-3]
    if len(top) == 1:
        return str(class_names[top[0]])
    return " / ".join(f"{class_names[i]} {label[i]:.2f}" for i in top)
