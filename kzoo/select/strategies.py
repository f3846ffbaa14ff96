"""Which images to label next: selection strategies on arrays (NumPy and
scikit-learn; no TensorFlow).

Each strategy takes what describes the pool (its embeddings, or a model's
probabilities) and a budget, and returns a `Selection`: pool indices in
the order to label them, with the strategy's score and cluster of each.

Cold start (nothing labelled, no model):
- `typiclust`: k-means into (labelled + budget) clusters; from the
  clusters with the fewest labelled images, largest first, the most
  *typical* image (densest: smallest mean distance to its nearest
  neighbours in its cluster). Hacohen et al. 2022, arXiv 2202.02794.
- `probcover`: balls of radius delta around each image; greedily the image
  whose ball covers the most images not yet covered. delta is the largest
  radius at which `purity` of the balls hold one k-means cluster only.
  Yehuda et al. 2022, arXiv 2205.11320.

Once a model exists:
- `margin`: smallest gap between the two most probable classes.
- `entropy`: largest entropy of the predicted distribution.
- `badge`: k-means++ seeding on the gradient embeddings
  `(p - onehot(argmax p)) x features` (Ash et al. 2020, arXiv 1906.03671),
  computed without building them (their inner products factor).
- `coreset`: greedy k-center on the embeddings, the labelled images as
  the first centres (Sener & Savarese 2018, arXiv 1708.00489).

And `random`, the baseline. Embedding strategies (typiclust, probcover,
coreset) work on L2-normalised embeddings, as the TypiClust and ProbCover
code do with self-supervised features.
"""

import dataclasses

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors

# TypiClust's constants (avihu111/TypiClust, deep-al/pycls/al/typiclust.py).
MAX_CLUSTERS = 500
MIN_CLUSTER_SIZE = 5
K_NN = 20
# Rows of a distance block: 256 x 100,000 float32 distances are 100 MB.
BLOCK = 256
# ProbCover's purity is estimated on at most this many images.
PURITY_SAMPLE = 5000


@dataclasses.dataclass
class Selection:
    """What a strategy returns.

    Attributes:
        indices: int64 `[budget]` pool indices, in the order to label them.
        scores: float64 `[budget]`, the strategy's score of each pick when
            it was picked (typicality, newly covered images, margin,
            entropy, squared distance; NaN for `random`).
        clusters: int64 `[budget]`, the cluster of each pick (-1 where the
            strategy has none).
        strategy: The strategy's name.
        info: What else it measured (`num_clusters`, `delta`, `coverage`).
    """

    indices: np.ndarray
    scores: np.ndarray
    clusters: np.ndarray
    strategy: str
    info: dict = dataclasses.field(default_factory=dict)


def normalized(embeddings):
    """Rows scaled to unit L2 norm (a zero row stays zero), float32."""
    x = np.asarray(embeddings, np.float32).reshape(len(embeddings), -1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _empty(labeled, dim):
    if labeled is None or not len(labeled):
        return np.zeros((0, dim), np.float32)
    return normalized(labeled)


def _result(picks, strategy, info=None):
    indices, scores, clusters = zip(*picks) if picks else ((), (), ())
    return Selection(np.asarray(indices, np.int64), np.asarray(scores, np.float64),
                     np.asarray(clusters, np.int64), strategy, info or {})


def random(num_pool, budget, seed=0):
    """`budget` pool indices drawn uniformly without replacement."""
    order = np.random.default_rng(seed).permutation(num_pool)[:budget]
    return _result([(i, np.nan, -1) for i in order], "random")


def kmeans(x, num_clusters, seed=0):
    """Cluster labels of `x`: k-means (k-means++ starts, the best of 10, as
    scikit-learn's `KMeans` did when TypiClust was written) up to 50
    clusters, mini-batch k-means (batches of 5,000, 3 starts) above, as
    TypiClust."""
    if num_clusters <= 50:
        model = KMeans(n_clusters=num_clusters, n_init=10, random_state=seed)
    else:
        model = MiniBatchKMeans(n_clusters=num_clusters, batch_size=5000,
                                n_init=3, random_state=seed)
    return model.fit_predict(x).astype(np.int64)


def typicality(x, k=K_NN):
    """1 / (mean squared distance to the `k` nearest other rows + 1e-5)
    of each row of `x` (`k` at most half the rows, at least 1)."""
    k = max(1, min(k, len(x) // 2))
    if len(x) <= 1:
        return np.ones(len(x))
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return 1.0 / (np.mean(distances[:, 1:] ** 2, axis=1) + 1e-5)


def typiclust(embeddings, budget, labeled=None, seed=0,
              max_clusters=MAX_CLUSTERS, min_cluster_size=MIN_CLUSTER_SIZE,
              k_nn=K_NN):
    """TypiClust: the most typical image of each of the least covered,
    largest clusters.

    Args:
        embeddings: `[N, ...]` embeddings of the pool.
        budget: Images to pick.
        labeled: `[M, ...]` embeddings of the labelled images (clustered
            with the pool; a cluster holding one is picked from last).
        seed: Seed of the k-means.
        max_clusters: At most this many clusters.
        min_cluster_size: Clusters of at most this many images are left
            out (all are kept when none is larger).
        k_nn: Neighbours of the typicality.

    Returns:
        A `Selection` (scores: typicality; clusters: k-means cluster).
    """
    pool = normalized(embeddings)
    known = _empty(labeled, pool.shape[1])
    x = np.concatenate([known, pool])
    num_clusters = max(1, min(len(known) + budget, max_clusters, len(x)))
    labels = kmeans(x, num_clusters, seed)
    ids, sizes = np.unique(labels, return_counts=True)
    existing = np.bincount(labels[:len(known)], minlength=num_clusters)[ids]
    keep = sizes > min_cluster_size
    if not keep.any():
        keep[:] = True
    # Fewest labelled first, then the largest; the id breaks ties.
    order = np.lexsort((ids, -sizes, existing))
    order = [int(ids[i]) for i in order if keep[i]]
    free = labels.copy()
    free[:len(known)] = -1  # labelled images are never picked
    picks, i = [], 0
    while len(picks) < budget and (free >= 0).any():
        if not order:  # every kept cluster is used up: the rest, by id
            order = [int(c) for c in np.unique(free[free >= 0])]
        cluster = order[i % len(order)]
        members = np.flatnonzero(free == cluster)
        if not len(members):
            order.remove(cluster)
            continue
        i += 1
        scores = typicality(x[members], k_nn)
        best = members[int(np.argmax(scores))]
        picks.append((best - len(known), float(scores.max()), int(cluster)))
        free[best] = -1
    return _result(picks, "typiclust", {"num_clusters": int(num_clusters)})


def _blocks(n, size=BLOCK):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def squared_distances(a, b, b_norms=None):
    """`[len(a), len(b)]` squared Euclidean distances (clipped at 0)."""
    b_norms = np.sum(b * b, axis=1) if b_norms is None else b_norms
    d = np.sum(a * a, axis=1)[:, None] + b_norms[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def purity_radius(x, clusters, purity=0.95, seed=0, sample=PURITY_SAMPLE):
    """The largest radius delta such that `purity` of the balls
    `{y : |y - x_i| < delta}` hold images of x_i's cluster only.

    A ball is pure exactly when delta is at most the distance from its
    centre to the nearest image of another cluster, so delta is that
    distance's (1 - purity) quantile, over at most `sample` centres drawn
    with `seed` (each against every image).
    """
    rng = np.random.default_rng(seed)
    centres = np.sort(rng.permutation(len(x))[:sample])
    norms = np.sum(x * x, axis=1)
    nearest_other = np.empty(len(centres))
    for start, stop in _blocks(len(centres)):
        rows = centres[start:stop]
        d = squared_distances(x[rows], x, norms)
        d[clusters[rows][:, None] == clusters[None, :]] = np.inf
        nearest_other[start:stop] = np.sqrt(d.min(axis=1))
    finite = nearest_other[np.isfinite(nearest_other)]
    if not len(finite):  # one cluster: every ball is pure
        return float(np.sqrt(np.max(norms)) * 2 + 1)
    return float(np.quantile(finite, 1.0 - purity))


def ball_graph(x, delta, centres=None):
    """Which images each ball covers: a list, per centre (`x`'s rows
    unless `centres` is given), of the int32 indices of `x` closer than
    `delta`."""
    centres = x if centres is None else centres
    norms = np.sum(x * x, axis=1)
    limit = delta * delta
    balls = []
    for start, stop in _blocks(len(centres)):
        d = squared_distances(centres[start:stop], x, norms)
        balls.extend(np.flatnonzero(row < limit).astype(np.int32) for row in d)
    return balls


def probcover(embeddings, budget, labeled=None, seed=0, purity=0.95,
              delta=None, num_clusters=None):
    """ProbCover: greedy maximum coverage with balls of radius delta.

    Args:
        embeddings: `[N, ...]` embeddings of the pool.
        budget: Images to pick.
        labeled: `[M, ...]` embeddings of the labelled images: what their
            balls cover counts as covered.
        seed: Seed of the k-means (and of the purity sample, and of the
            picks once everything is covered).
        purity: Fraction of pure balls that chooses delta.
        delta: The radius itself (on L2-normalised embeddings), instead.
        num_clusters: Clusters of the purity estimate; by default the
            budget (at most 500; at least 2): a proxy for the classes,
            whatever is labelled already.

    Returns:
        A `Selection` (scores: images newly covered; `info`: `delta`,
        `coverage` of the pool after the picks, `num_clusters`).
    """
    x = normalized(embeddings)
    known = _empty(labeled, x.shape[1])
    if delta is None:
        k = num_clusters or max(2, min(budget, MAX_CLUSTERS))
        clusters = kmeans(x, min(k, len(x)), seed)
        delta = purity_radius(x, clusters, purity, seed)
    balls = ball_graph(x, delta)
    covered = np.zeros(len(x), bool)
    for ball in ball_graph(x, delta, known) if len(known) else ():
        covered[ball] = True
    # Balls are symmetric: the balls holding image j are those centred at
    # ball(j)'s images, so covering j lowers their degrees by one.
    degree = np.array([np.count_nonzero(~covered[b]) for b in balls])
    chosen = np.zeros(len(x), bool)
    rng = np.random.default_rng(seed)
    picks = []
    for _ in range(min(budget, len(x))):
        best = int(np.argmax(np.where(chosen, -1, degree)))
        if degree[best] <= 0:  # all covered: the rest at random
            best = int(rng.choice(np.flatnonzero(~chosen)))
        new = balls[best][~covered[balls[best]]]
        picks.append((best, float(len(new)), -1))
        chosen[best] = True
        covered[new] = True
        for j in new:
            degree[balls[j]] -= 1
    return _result(picks, "probcover", {
        "delta": float(delta), "coverage": float(covered.mean()) if len(x) else 0.0})


def _check_probabilities(probabilities):
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError("probabilities must be [N, classes] with 2 or more "
                         f"classes. Received: shape={p.shape}")
    return p


def _by_score(scores, budget):
    """The indices of the `budget` smallest scores, ties by index."""
    return np.lexsort((np.arange(len(scores)), scores))[:budget]


def margin(probabilities, budget):
    """The `budget` images with the smallest gap between the two most
    probable classes (scores: that gap)."""
    p = np.sort(_check_probabilities(probabilities), axis=1)
    gap = p[:, -1] - p[:, -2]
    order = _by_score(gap, budget)
    return _result([(i, gap[i], -1) for i in order], "margin")


def entropy(probabilities, budget):
    """The `budget` images whose predicted distribution has the largest
    entropy, in nats (scores: that entropy)."""
    p = _check_probabilities(probabilities)
    h = -np.sum(np.where(p > 0, p * np.log(np.maximum(p, 1e-300)), 0.0), axis=1)
    order = _by_score(-h, budget)
    return _result([(i, h[i], -1) for i in order], "entropy")


def badge(probabilities, features, budget, seed=0):
    """BADGE: k-means++ seeding on gradient embeddings.

    The gradient embedding of image i is `a_i x h_i` (outer product), with
    `a_i = p_i - onehot(argmax p_i)` and `h_i` its features; the squared
    distance of two is `|a_i|^2|h_i|^2 + |a_j|^2|h_j|^2 - 2 (a_i.a_j)(h_i.h_j)`,
    computed from `a` and `h` alone (memory O(N (classes + dim))).

    Args:
        probabilities: `[N, classes]` predicted probabilities.
        features: `[N, ...]` the features the classifier's last layer reads.
        budget: Images to pick.
        seed: Seed of the D^2 sampling.

    Returns:
        A `Selection` (scores: the squared distance to the nearest earlier
        pick when picked; the first pick's is its squared norm).
    """
    p = _check_probabilities(probabilities)
    a = p.copy()
    a[np.arange(len(p)), p.argmax(axis=1)] -= 1.0
    h = np.asarray(features, np.float64).reshape(len(p), -1)
    sq = np.sum(a * a, axis=1) * np.sum(h * h, axis=1)
    rng = np.random.default_rng(seed)
    first = int(np.argmax(sq))
    picks = [(first, float(sq[first]), -1)]
    nearest = np.full(len(p), np.inf)
    chosen = np.zeros(len(p), bool)
    chosen[first] = True
    last = first
    while len(picks) < min(budget, len(p)):
        d = sq + sq[last] - 2.0 * (a @ a[last]) * (h @ h[last])
        nearest = np.minimum(nearest, np.maximum(d, 0.0))
        weights = np.where(chosen, 0.0, nearest)
        if weights.sum() <= 0:  # every image equals a pick: any other one
            weights = (~chosen).astype(np.float64)
        last = int(rng.choice(len(p), p=weights / weights.sum()))
        picks.append((last, float(nearest[last]), -1))
        chosen[last] = True
    return _result(picks, "badge")


def coreset(embeddings, budget, labeled=None, seed=0):
    """Greedy k-center: each pick the image farthest from the labelled
    images and the earlier picks (the first, without labelled images, drawn
    with `seed`). Scores: that squared distance (on L2-normalised
    embeddings; the first pick's is NaN when drawn)."""
    x = normalized(embeddings)
    known = _empty(labeled, x.shape[1])
    norms = np.sum(x * x, axis=1)
    nearest = np.full(len(x), np.inf)
    for start, stop in _blocks(len(known)):
        nearest = np.minimum(nearest, squared_distances(
            known[start:stop], x, norms).min(axis=0))
    picks = []
    for _ in range(min(budget, len(x))):
        if np.isinf(nearest).all():
            best, score = int(np.random.default_rng(seed).integers(len(x))), np.nan
        else:
            best = int(np.argmax(nearest))
            score = float(nearest[best])
        picks.append((best, score, -1))
        nearest = np.minimum(nearest, squared_distances(x[best:best + 1], x, norms)[0])
        nearest[best] = -1.0  # never again
    return _result(picks, "coreset")
