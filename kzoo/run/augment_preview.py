"""A grid of originals next to augmented draws: `kzoo augment-preview`."""

import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backend_bases import FigureCanvasBase

from kzoo.data import load_data
from kzoo.errors import KzooError
from kzoo.outputs import check_user_file, user_file
from kzoo.run import inputs, progress
from kzoo.run.result import RunResult
from kzoo.run.tensorboard import label_text

SMOKE_IMAGES = 2
SMOKE_DRAWS = 2


def augment_preview(config):
    """Write --out: row i is training image i, then --draws augmentations
    of it (each draw augments the whole batch, so label-mixing entries pick
    partners from it); titles give each image's top labels.

    --out is checked before anything is read, its folders made if missing,
    and written as `kzoo.outputs.user_file` does (a pipe or a device is
    written to, a regular file replaced atomically, keeping its
    permissions), in the format its extension names (PNG without one).

    Returns:
        `RunResult` with `out` the PNG written.

    Raises:
        KzooError: --out cannot be written, or names a format matplotlib
            does not write; a failed write (a full disk) names --out.
    """
    image_format = _format(config.out)
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
    _plot(columns, data, policy.spec, config.out, image_format)
    progress.say(f"wrote {config.out}: {len(images)} images x {draws} draws of "
                 f"'{policy.spec}'")
    return RunResult("augment-preview", config.out,
                     report={"images": len(images), "draws": draws,
                             "policy": policy.spec})


def _format(path):
    """The image format --out's extension names (`png` without one), with
    --out checked (`check_user_file`)."""
    check_user_file(path, "--out", make_folders=True)
    extension = os.path.splitext(path)[1][1:].lower()
    supported = FigureCanvasBase.get_supported_filetypes()
    if extension and extension not in supported:
        raise KzooError(f"--out must end in an image format matplotlib writes "
                        f"({', '.join(sorted(supported))}) or have no "
                        f"extension. Received: --out {path}")
    return extension or "png"


def _plot(columns, data, spec, path, image_format):
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
    try:
        with user_file(path, "wb", option="--out") as f:
            fig.savefig(f, format=image_format, dpi=100)
    finally:
        plt.close(fig)
