"""A folder of 28x28 grey digit PNGs made from scikit-learn's digits, for
timing and scoring `kzoo fixmatch` on a folder larger than the bundled
digits (nothing downloads):

    python benchmarks/make_digit_folder.py DIR [N_TRAIN]
    kzoo fixmatch --data DIR --labels-per-class 10


root/train/<class>/*.png (N images from the first 1,400 source digits)
and root/test/<class>/*.png (from the other 397), each an 8x8 digit
upscaled to 20x20 with a random rotation, scale and shift, on a 28x28 canvas."""
import os
import sys

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def renderer(rng):
    """`render(8x8 digit) -> 28x28 PIL image`, drawing its rotation, scale
    and shift from `rng`."""
    def render(img):
        a = Image.fromarray((img / 16 * 255).astype(np.uint8)).resize((20, 20), Image.BILINEAR)
        a = a.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)
        s = int(round(20 * rng.uniform(0.85, 1.1)))
        a = a.resize((s, s), Image.BILINEAR)
        canvas = Image.new("L", (28, 28))
        off = (28 - s) // 2
        canvas.paste(a, (off + int(rng.integers(-2, 3)), off + int(rng.integers(-2, 3))))
        return canvas
    return render


def make(root, n_train=4000, n_test=1000, seed=0):
    d = load_digits()
    rng = np.random.default_rng(seed)
    names = ["zero","one","two","three","four","five","six","seven","eight","nine"]
    render = renderer(rng)
    for split, lo, hi, n in (("train", 0, 1400, n_train), ("test", 1400, 1797, n_test)):
        idx = rng.integers(lo, hi, size=n)
        for k, i in enumerate(idx):
            folder = os.path.join(root, split, names[d.target[i]])
            os.makedirs(folder, exist_ok=True)
            render(d.images[i]).save(os.path.join(folder, f"{k:05d}.png"))

if __name__ == "__main__":
    make(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4000)
