"""Noisy Student pieces: streamed pseudo-labelling and the noise each model gets.

The loop itself (teacher -> pseudo-labels -> noised student -> repeat) is
`kzoo.run.noisy_student` (`kzoo noisy-student`); this module holds what it
is built from. The model noise of each model is in its registry entry
(`get_model_entry(name).noise`, a `kzoo.models.ModelNoise`).
"""

import collections.abc

import numpy as np

from kzoo.models import family_noise, list_families


class _FamilyNoise(collections.abc.Mapping):
    """Read-only view `{family: description}` of the registry's model noise."""

    def __getitem__(self, family):
        if family not in list_families():
            raise KeyError(family)
        return family_noise(family).description

    def __iter__(self):
        return iter(list_families())

    def __len__(self):
        return len(list_families())

    def __repr__(self):
        return repr(dict(self))


# Model noise of Noisy Student (Xie et al. 2020) per registered family, read
# from the registry (see `kzoo.models.ModelNoise`).
MODEL_NOISE = _FamilyNoise()


def model_noise(family):
    """What model noise a registered family gets, in words.

    Same as `kzoo.models.family_noise(family).description`; an unknown
    family gets input noise only.
    """
    return family_noise(family).description


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
