"""Noisy Student pieces: streamed pseudo-labelling and the noise each model gets.

The loop itself (teacher -> pseudo-labels -> noised student -> repeat) is
`recipes/noisy_student.py`; this module holds what it is built from.
"""

import numpy as np

# Model noise of Noisy Student (Xie et al. 2020): dropout and stochastic
# depth. Stochastic depth drops residual branches, and the classic zoo has
# no residual blocks, so no registered model gets it. Input noise
# (RandAugment through the augmentation policy) applies to every model.
MODEL_NOISE = {
    "lenet": "dropout after the hidden FC layers (fc1, fc2)",
    "alexnet": "dropout after fc1 and fc2",
    "vgg": "dropout after fc1 and fc2",
    "baseline": "none (the perceptron has no hidden layer): input noise only",
}


def model_noise(family):
    """What model noise a registered family gets (see `MODEL_NOISE`)."""
    return MODEL_NOISE.get(family, "none known: input noise only")


def predict_probabilities(model, dataset, batch_size=256, verbose=0):
    """Softmax outputs of `model` (un-noised: inference mode) on a pool.

    The pool is streamed batch by batch: only the `[N, classes]`
    probabilities are held, never the images, so memory does not grow with
    the pool beyond `4 · N · classes` bytes (see
    `benchmarks/bench_pseudo_label_memory.py`).

    Args:
        model: A `keras.Model` returning logits.
        dataset: Unbatched `(image, label)` dataset (not cached).
        batch_size: Images per prediction batch.
        verbose: `model.predict` verbosity.

    Returns:
        float32 `[N, classes]` probabilities, in the dataset's order.
    """
    images = dataset.map(lambda x, y: x).batch(batch_size).prefetch(2)
    logits = np.asarray(model.predict(images, verbose=verbose), dtype=np.float32)
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)
