"""A grid of originals next to augmented draws: `kzoo augment-preview`."""

import os

import matplotlib.pyplot as plt
import numpy as np

from kzoo.analysis.plots import save_figure
from kzoo.data import load_data
from kzoo.run import inputs, progress
from kzoo.run.result import RunResult

SMOKE_IMAGES = 2
SMOKE_DRAWS = 2


def augment_preview(config):
    """Write --out: row i is training image i, then --draws augmentations
    of it (each draw augments the whole batch, so label-mixing entries pick
    partners from it); titles give each image's top labels.

    Returns:
        `RunResult` with `out` the PNG written.
    """
    count = SMOKE_IMAGES if config.smoke else config.images
    draws = SMOKE_DRAWS if config.smoke else config.draws
    size = (config.input_size, config.input_size)
    data = load_data(config.data, image_size=size, seed=config.seed,
                     data_dir=config.data_dir, download=config.download,
                     classes=config.classes)
    policy = inputs.make_policy(config.augment, data.image_shape[:2],
                                data.num_classes, config.seed)
    images, labels = next(iter(data.train.batch(count)))
    batch = {"images": images, "labels": policy.one_hot(labels)}
    columns = [policy(batch, training=False)]
    columns += [policy(batch, training=True) for _ in range(draws)]
    _plot(columns, data, policy.spec, config.out)
    progress.say(f"wrote {config.out}: {len(images)} images x {draws} draws of "
                 f"'{policy.spec}'")
    return RunResult("augment-preview", config.out,
                     report={"images": len(images), "draws": draws,
                             "policy": policy.spec})


def _plot(columns, data, spec, path):
    rows = len(columns[0]["images"])
    fig, axes = plt.subplots(rows, len(columns), squeeze=False,
                             figsize=(1.6 * len(columns), 1.7 * rows))
    cmap = "gray" if data.image_shape[-1] == 1 else None
    for col, batch in enumerate(columns):
        for row in range(rows):
            ax = axes[row][col]
            pixels = np.clip(np.asarray(batch["images"][row]), 0, 255).astype("uint8")
            ax.imshow(pixels.squeeze(-1) if cmap else pixels, cmap=cmap,
                      vmin=0, vmax=255)
            title = label_text(np.asarray(batch["labels"][row]), data.class_names)
            ax.set_title(("original: " if col == 0 else "") + title, fontsize=7)
            ax.axis("off")
    fig.suptitle(f"{data.name}: {spec}", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_figure(fig, path)
    plt.close(fig)


def label_text(label, class_names):
    """`'3'` for a one-hot label, `'3 0.62 / 8 0.38'` for a mixed one."""
    order = np.argsort(label)[::-1]
    top = [i for i in order[:2] if label[i] > 1e-3]
    if len(top) == 1:
        return str(class_names[top[0]])
    return " / ".join(f"{class_names[i]} {label[i]:.2f}" for i in top)
