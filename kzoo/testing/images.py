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


def make_noisy_digit_folder(root, flip_fraction=0.05, per_class=None, seed=0):
    """scikit-learn's bundled digits as a data folder `root/train/<digit>/`
    (8x8 grey PNGs), with `flip_fraction` of them (seeded) put in the folder
    of another digit: labels a person got wrong, for auditing.

    Args:
        root: The folder to create.
        flip_fraction: Share of the images given a wrong class.
        per_class: Keep this many images of each digit (default: all 1,797).
        seed: Seed of the subset, the flips and their wrong classes.

    Returns:
        `(paths, true_labels, flipped)`: every image's path, its true digit,
        and a bool mask of the flipped ones.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    keep = np.arange(len(digits.target))
    if per_class is not None:
        keep = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(digits.target == c), per_class, replace=False)
            for c in range(10)]))
    true = digits.target[keep]
    flipped = np.zeros(len(keep), bool)
    flipped[rng.choice(len(keep), round(flip_fraction * len(keep)),
                       replace=False)] = True
    given = np.where(flipped, (true + rng.integers(1, 10, len(keep))) % 10, true)
    paths = []
    for n, (i, label) in enumerate(zip(keep, given)):
        folder = os.path.join(root, "train", str(label))
        os.makedirs(folder, exist_ok=True)
        paths.append(os.path.join(folder, f"{n:04d}.png"))
        write_image(paths[-1], digits.images[i] * 255 / 16)
    return paths, true, flipped
