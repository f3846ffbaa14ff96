"""`kzoo augment-preview`: its options and description (TensorFlow-free; the run
is `kzoo.run.augment_preview.augment_preview`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    DATA,
    DEFAULT_POLICY,
    Opt,
    command,
)

COMMAND = command(
    "augment-preview", "a PNG grid of images next to augmented draws of them",
    """Write a PNG grid of originals next to several augmented draws of them.

  kzoo augment-preview --augment "crop,randaugment(n=2,m=9)"
  kzoo augment-preview --data DIR --augment "flip,cutmix" --out grid.png

Row i shows training image i, then --draws augmentations of it (each draw
augments the whole batch of --images images together, so label-mixing
entries pick partners from the batch); titles give each image's top labels.""",
    "kzoo.run.augment_preview:augment_preview",
    *DATA,
    Opt("augment", "default", help=f"policy string; 'default' = '{DEFAULT_POLICY}'"),
    Opt("input_size", 32, t.input_size),
    Opt("images", 6, t.preview_images, "rows"),
    Opt("draws", 5, t.preview_draws, "augmented columns"),
    Opt("out", "augment_preview.png"),
    Opt("smoke", False, kind="switch", help="2 images, 2 draws"),
)
