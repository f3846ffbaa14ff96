"""Write a PNG grid of originals next to several augmented draws of them.

    python recipes/augment_preview.py --augment "crop,randaugment(n=2,m=9)"
    python recipes/augment_preview.py --data DIR --augment "flip,cutmix" --out grid.png

Row i shows training image i, then `--draws` augmentations of it (each draw
augments the whole batch of `--images` images together, so label-mixing
entries pick partners from the batch); titles give each image's top labels.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.analysis.plots import save_figure  # noqa: E402
from kzoo.augment import DEFAULT_POLICY, AugmentPolicy  # noqa: E402
from kzoo.data import load_data  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_data_flags(p)
    p.add_argument(
        "--augment",
        default="default",
        help=f"policy string; 'default' = '{DEFAULT_POLICY}'",
    )
    p.add_argument("--input-size", type=cli.positive_int, default=32)
    p.add_argument("--images", type=cli.positive_int, default=6, help="rows")
    p.add_argument(
        "--draws", type=cli.positive_int, default=5, help="augmented columns"
    )
    p.add_argument("--out", default="augment_preview.png")
    return p


def label_text(label, class_names):
    """`'3'` for a one-hot label, `'3 .62 / 8 .38'` for a mixed one."""
    order = np.argsort(label)[::-1]
    top = [i for i in order[:2] if label[i] > 1e-3]
    if len(top) == 1:
        return str(class_names[top[0]])
    return " / ".join(f"{class_names[i]} {label[i]:.2f}" for i in top)


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    spec = DEFAULT_POLICY if args.augment == "default" else args.augment
    data = load_data(
        args.data,
        image_size=(args.input_size, args.input_size),
        seed=args.seed,
        data_dir=args.data_dir,
        download=args.download,
        classes=args.classes,
    )
    policy = AugmentPolicy(spec, data.image_shape[:2], data.num_classes, seed=args.seed)
    images, labels = next(iter(data.train.batch(args.images)))
    columns = [policy(images, labels, training=False)]
    columns += [policy(images, labels) for _ in range(args.draws)]

    fig, axes = plt.subplots(
        args.images,
        args.draws + 1,
        squeeze=False,
        figsize=(1.6 * (args.draws + 1), 1.7 * args.images),
    )
    cmap = "gray" if data.image_shape[-1] == 1 else None
    for col, (batch, batch_labels) in enumerate(columns):
        for row in range(len(images)):
            ax = axes[row][col]
            pixels = np.clip(np.asarray(batch[row]), 0, 255).astype("uint8")
            ax.imshow(
                pixels.squeeze(-1) if cmap else pixels, cmap=cmap, vmin=0, vmax=255
            )
            title = label_text(np.asarray(batch_labels[row]), data.class_names)
            ax.set_title(("original: " if col == 0 else "") + title, fontsize=7)
            ax.axis("off")
    fig.suptitle(f"{data.name}: {spec}", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_figure(fig, args.out)
    plt.close(fig)
    print(f"wrote {args.out}: {len(images)} images x {args.draws} draws of '{spec}'")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
