"""The labelled sets of `kzoo label-budget --selection`: chosen from the
training pool by a strategy, then labelled from the hidden labels (an
oracle, as in the active-learning papers).

A selection is `STRATEGY` (all --budgets images at once, from the
embeddings) or `FIRST+SECOND` (half by FIRST, a model trained on them by
the technique, then the other half by SECOND from that model's
predictions on the rest of the pool).
"""

import dataclasses

import numpy as np

from kzoo import select as selection
from kzoo.data import load_data
from kzoo.errors import KzooError
from kzoo.select.embeddings import PIXELS, Embedding, embed
from kzoo.training import load_model_source
from kzoo.training.simclr import encoder_of


@dataclasses.dataclass(frozen=True)
class Spec:
    """A parsed --selection item."""

    name: str
    first: str
    second: str = None


def parse_selection(items):
    """`Spec`s of --selection items, checked against `kzoo.select.STRATEGIES`.

    Raises:
        KzooError: An unknown strategy, a first round that needs a model
            (nothing is trained yet), or more than two rounds.
    """
    specs = []
    for item in items:
        parts = item.split("+")
        unknown = [p for p in parts if p not in selection.STRATEGIES]
        if unknown or len(parts) > 2:
            raise KzooError(
                f"--selection takes strategies ({', '.join(selection.STRATEGIES)}) "
                "or FIRST+SECOND (e.g. typiclust+margin). Received: "
                f"--selection {item}")
        if selection.STRATEGIES[parts[0]].needs_model:
            raise KzooError(
                f"--selection {item}: {parts[0]} needs a trained model, so it "
                "can only be the second round (e.g. typiclust+margin)")
        specs.append(Spec(item, *parts))
    return specs


def check_budgets(budgets, specs, pool_size):
    """Refuse a budget the pool cannot give: all of it or more (nothing
    would be left unlabelled), or under 2 for a FIRST+SECOND spec.

    Raises:
        KzooError: Naming the budget.
    """
    for budget in budgets:
        if budget >= pool_size:
            raise KzooError(
                f"--budgets {budget} with --selection: the training pool holds "
                f"{pool_size} images, and a budget must leave some unlabelled. "
                f"Expected budgets below {pool_size}. Received: --budgets {budget}")
        if budget < 2 and any(spec.second for spec in specs):
            raise KzooError(
                f"--budgets {budget}: a two-round selection picks half the budget "
                "in each round. Expected budgets of 2 or more. Received: "
                f"--budgets {budget}")


class Pool:
    """A seed's training pool (the `train` split without a budget): its
    hidden labels and its embeddings under --embedding."""

    def __init__(self, config, seed, size):
        self.config = config
        data = load_data(config.data, image_size=(size, size),
                         seed=seed, data_dir=config.data_dir,
                         download=config.download, classes=config.classes)
        self.labels = np.array([int(y) for _, y in data.train.as_numpy_iterator()])
        self.seed = seed
        encoder, encoder_size, channels = Embedding(
            config.embedding or PIXELS).encoder(data.image_shape[-1])
        self.embeddings = self.features(encoder, encoder_size, channels)[0]

    def images(self, size, channels):
        data = load_data(self.config.data, image_size=(size, size),
                         seed=self.seed, data_dir=self.config.data_dir,
                         download=self.config.download, classes=self.config.classes,
                         channels=channels)
        return data.train.enumerate().map(lambda i, xy: (xy[0], i))

    def features(self, encoder, size, channels, classifier=None):
        """`(features, probabilities or None)` of every pool image, in order."""
        vectors, kept, probs = embed(encoder, self.images(size, channels), 256,
                                     with_logits=classifier)
        if len(kept) != len(self.labels):
            raise KzooError(f"{len(self.labels) - len(kept)} pool images could "
                            "not be read for the selection")
        return vectors, probs

    def coverage(self, indices):
        return int(len(np.unique(self.labels[np.asarray(indices)])))


def first_round(spec, pool, budget, seed):
    """The pool indices the first (or only) round picks."""
    n = budget if spec.second is None else budget // 2
    return selection.select(spec.first, n, embeddings=pool.embeddings,
                            seed=seed).indices


def second_round(spec, pool, chosen, budget, model_path, seed):
    """`chosen` plus `budget - len(chosen)` images picked by the second
    strategy from the rest of the pool, with the model at `model_path`."""
    model = load_model_source(model_path)
    encoder = encoder_of(model)
    features, probs = pool.features(encoder, model.input_shape[1],
                                    model.input_shape[-1], classifier=model)
    rest = np.setdiff1d(np.arange(len(pool.labels)), chosen)
    picked = selection.select(
        spec.second, budget - len(chosen), embeddings=features[rest],
        probabilities=probs[rest], labeled=features[chosen], seed=seed)
    return np.concatenate([chosen, rest[picked.indices]])
