"""Generate small, learnable image folders for tests and examples."""

import os

import numpy as np
from PIL import Image


def class_pattern(label, size, rng, channels=3):
    """A noisy image whose bright band position encodes `label`."""
    img = rng.integers(0, 60, size=(size, size, channels)).astype(np.uint8)
    band = max(1, size // 8)
    start = (label * 2 * band) % max(1, size - band)
    img[start : start + band, :, :] = 230
    return img


def write_image(path, pixels):
    """Write uint8 `[H, W]`/`[H, W, C]` pixels; the format comes from the suffix."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    Image.fromarray(pixels).save(path)


def make_image_folder(root, classes=("a", "b", "c"), per_class=6, size=16,
                      splits=("train",), unlabeled=0, fmt="png", seed=0):
    """Write `root/<split>/<class>/*.{fmt}` (+ `root/unlabeled/sub/*`).

    Returns:
        `root`.
    """
    rng = np.random.default_rng(seed)
    for split in splits:
        for label, cls in enumerate(classes):
            folder = os.path.join(root, split, cls)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                write_image(os.path.join(folder, f"{i}.{fmt}"),
                            class_pattern(label, size, rng))
    if unlabeled:
        folder = os.path.join(root, "unlabeled", "batch1")
        os.makedirs(folder, exist_ok=True)
        for i in range(unlabeled):
            write_image(os.path.join(folder, f"u{i}.{fmt}"),
                        class_pattern(i % len(classes), size, rng))
    return root
