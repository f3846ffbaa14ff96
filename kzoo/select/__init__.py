"""Which images to label: selection strategies on embeddings and
predictions (`kzoo select` is the command).

    from kzoo.select import select
    picks = select("typiclust", budget=10, embeddings=features)
    picks.indices          # pool rows to label, in order

`select(strategy, budget, ...)` checks its inputs and calls one row of
`STRATEGIES`; the strategies themselves are in `kzoo.select.strategies`
and take plain arrays, so features from anywhere work. This package
imports no TensorFlow.
"""

import dataclasses

import numpy as np

from kzoo.select import strategies
from kzoo.select.strategies import Selection

__all__ = ["COLD_START", "STRATEGIES", "Selection", "Strategy", "select"]


@dataclasses.dataclass(frozen=True)
class Strategy:
    """A row of `STRATEGIES`.

    Attributes:
        function: `function(budget=, seed=, embeddings=, probabilities=,
            labeled=)` -> `Selection` (see `_call`).
        needs_model: Whether it reads a model's predictions.
        summary: One line for `kzoo select --help`.
    """

    function: object
    needs_model: bool
    summary: str


def _typiclust(budget, seed, embeddings, labeled, **_):
    return strategies.typiclust(embeddings, budget, labeled=labeled, seed=seed)


def _probcover(budget, seed, embeddings, labeled, **_):
    return strategies.probcover(embeddings, budget, labeled=labeled, seed=seed)


def _coreset(budget, seed, embeddings, labeled, **_):
    return strategies.coreset(embeddings, budget, labeled=labeled, seed=seed)


def _margin(budget, probabilities, **_):
    return strategies.margin(probabilities, budget)


def _entropy(budget, probabilities, **_):
    return strategies.entropy(probabilities, budget)


def _badge(budget, seed, embeddings, probabilities, **_):
    return strategies.badge(probabilities, embeddings, budget, seed=seed)


def _random(budget, seed, embeddings, probabilities, **_):
    pool = embeddings if embeddings is not None else probabilities
    return strategies.random(len(pool), budget, seed=seed)


STRATEGIES = {
    "typiclust": Strategy(_typiclust, False,
                          "the most typical image of each uncovered cluster"),
    "probcover": Strategy(_probcover, False,
                          "greedy coverage with pure balls"),
    "random": Strategy(_random, False, "uniform, the baseline"),
    "margin": Strategy(_margin, True,
                       "smallest gap between the two likeliest classes"),
    "entropy": Strategy(_entropy, True, "most uncertain predictions"),
    "badge": Strategy(_badge, True,
                      "k-means++ on gradient embeddings: uncertain and diverse"),
    "coreset": Strategy(_coreset, False,
                        "farthest from the labelled images (k-center)"),
}
# The default without a model (measured on the digits: see kzoo/run/select.py).
COLD_START = "typiclust"
# The default with one.
WITH_MODEL = "margin"


def select(strategy, budget, embeddings=None, probabilities=None, labeled=None,
           seed=0):
    """Pick `budget` images of a pool to label.

    Args:
        strategy: A key of `STRATEGIES`.
        budget: Images to pick, 1 to the pool's size.
        embeddings: `[N, ...]` pool embeddings (typiclust, probcover,
            coreset; badge's features).
        probabilities: `[N, classes]` a model's predictions on the pool
            (margin, entropy, badge).
        labeled: `[M, ...]` embeddings of the images already labelled
            (typiclust, probcover and coreset count them as covered).
        seed: Seed of the strategy's random choices.

    Returns:
        A `Selection`.

    Raises:
        ValueError: Unknown strategy, budget out of range, or an input the
            strategy needs missing or of the wrong length.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown selection strategy. Expected one of "
                         f"{sorted(STRATEGIES)}. Received: strategy={strategy!r}")
    row = STRATEGIES[strategy]
    embeddings = None if embeddings is None else np.asarray(embeddings)
    probabilities = None if probabilities is None else np.asarray(probabilities)
    if row.needs_model and probabilities is None:
        raise ValueError(f"Strategy {strategy!r} reads a model's predictions: "
                         "pass probabilities. Received: probabilities=None")
    if (strategy in ("typiclust", "probcover", "coreset", "badge")
            and embeddings is None):
        raise ValueError(f"Strategy {strategy!r} needs embeddings. "
                         "Received: embeddings=None")
    sizes = {len(a) for a in (embeddings, probabilities) if a is not None}
    if not sizes:
        raise ValueError("Expected embeddings or probabilities of the pool. "
                         "Received: neither")
    if len(sizes) > 1:
        raise ValueError("embeddings and probabilities must describe the same "
                         f"images. Received: {len(embeddings)} and "
                         f"{len(probabilities)} rows")
    pool = sizes.pop()
    if not isinstance(budget, (int, np.integer)) or not 1 <= budget <= pool:
        raise ValueError(f"budget must be an integer from 1 to the pool's "
                         f"{pool} images. Received: budget={budget!r}")
    if labeled is not None and not len(labeled):
        labeled = None
    if labeled is not None and embeddings is not None:
        labeled = np.asarray(labeled).reshape(len(labeled), -1)
        if labeled.shape[1:] != embeddings.reshape(pool, -1).shape[1:]:
            raise ValueError("labeled must have the embeddings' width. "
                             f"Received: {labeled.shape[1:]} and "
                             f"{embeddings.reshape(pool, -1).shape[1:]}")
    return row.function(budget=int(budget), seed=seed, embeddings=embeddings,
                        probabilities=probabilities, labeled=labeled)
