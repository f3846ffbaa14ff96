"""Selection strategies on hand-made points (kzoo.select)."""

import numpy as np
import pytest

from kzoo.select import STRATEGIES, select, strategies


def blobs(seed=0):
    """Two tight clusters (40 points near direction x, 25 near y) and three
    outliers between and beyond them, in 3-D: `(points, group)` with
    group 0, 1, or -1 for an outlier."""
    rng = np.random.default_rng(seed)
    a = np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.03, (40, 3))
    b = np.array([0.0, 1.0, 0.0]) + rng.normal(0, 0.03, (25, 3))
    outliers = np.array([[0.7, 0.7, 0.2], [0.9, 0.1, 0.45], [0.1, 0.9, -0.45]])
    points = np.concatenate([a, b, outliers]).astype(np.float32)
    group = np.array([0] * 40 + [1] * 25 + [-1] * 3)
    return points, group


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typiclust_picks_one_typical_point_per_cluster_never_an_outlier(seed):
    points, group = blobs(seed)
    chosen = select("typiclust", 2, embeddings=points, seed=seed)
    assert sorted(group[chosen.indices]) == [0, 1]
    # the larger cluster first, and its pick is the densest point of it
    assert group[chosen.indices[0]] == 0
    members = np.flatnonzero(group == 0)
    x = strategies.normalized(points)
    typical = strategies.typicality(x[members])
    assert chosen.indices[0] == members[np.argmax(typical)]
    assert chosen.info["num_clusters"] == 2


def test_typiclust_starts_with_the_cluster_nobody_labelled():
    points, group = blobs()
    labeled = points[group == 0][:3] * 1.01
    chosen = select("typiclust", 1, embeddings=points, labeled=labeled)
    assert group[chosen.indices[0]] == 1


def test_typiclust_with_a_budget_beyond_its_clusters_still_picks_distinct_points():
    points, _ = blobs()
    chosen = strategies.typiclust(points, 20, max_clusters=3)
    assert len(chosen.indices) == 20 == len(set(chosen.indices.tolist()))


def test_probcover_covers_the_largest_groups_first_and_reports_coverage():
    rng = np.random.default_rng(0)
    centres = np.eye(3)
    sizes = (50, 30, 10)
    points = np.concatenate([c + rng.normal(0, 0.02, (n, 3))
                             for c, n in zip(centres, sizes)])
    group = np.repeat([0, 1, 2], sizes)
    chosen = strategies.probcover(points, 3, delta=0.3)
    assert group[chosen.indices].tolist() == [0, 1, 2]
    assert chosen.scores.tolist() == [50.0, 30.0, 10.0]
    assert chosen.info["coverage"] == 1.0
    # labelled images cover their group already: the next pick is elsewhere
    again = strategies.probcover(points, 1, labeled=points[:1], delta=0.3)
    assert group[again.indices[0]] == 1


def test_probcover_purity_radius_is_the_nearest_other_cluster_quantile():
    # On a line: cluster 0 at 0, 1, 2; cluster 1 at 10, 11. The nearest
    # point of the other cluster is 8 away for the two closest, 9, 10, 9 ...
    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    clusters = np.array([0, 0, 0, 1, 1])
    nearest = np.array([10.0, 9.0, 8.0, 8.0, 9.0])
    for purity in (0.6, 0.8, 1.0):
        expected = np.quantile(nearest, 1 - purity)
        assert strategies.purity_radius(x, clusters, purity) == pytest.approx(expected)


def test_margin_picks_the_ambiguous_point_and_entropy_the_flattest():
    p = np.array([[0.98, 0.01, 0.01],
                  [0.50, 0.49, 0.01],   # ambiguous between two classes
                  [0.34, 0.335, 0.325],  # flattest, and the smallest gap
                  [0.70, 0.20, 0.10]])
    assert select("margin", 1, probabilities=p).indices.tolist() == [2]
    assert select("margin", 2, probabilities=p).indices.tolist() == [2, 1]
    assert strategies.margin(p, 4).scores[0] == pytest.approx(0.005)
    two = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]])
    assert select("margin", 1, probabilities=two).indices.tolist() == [1]
    assert select("entropy", 1, probabilities=p).indices.tolist() == [2]
    assert strategies.entropy(p, 1).scores[0] == pytest.approx(
        -np.sum(p[2] * np.log(p[2])))


def test_badge_distances_equal_those_of_the_explicit_gradient_embeddings():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), 30)
    h = rng.normal(size=(30, 5))
    a = p.copy()
    a[np.arange(30), p.argmax(1)] -= 1
    g = np.einsum("nc,nd->ncd", a, h).reshape(30, -1)
    chosen = strategies.badge(p, h, 6, seed=3)
    assert chosen.indices[0] == np.argmax(np.sum(g * g, axis=1))
    assert chosen.scores[0] == pytest.approx(np.sum(g[chosen.indices[0]] ** 2))
    for k in range(1, 6):
        earlier = g[chosen.indices[:k]]
        d = np.min(np.sum((earlier - g[chosen.indices[k]]) ** 2, axis=1))
        assert chosen.scores[k] == pytest.approx(d, rel=1e-6, abs=1e-9)


def test_badge_never_picks_a_copy_of_a_picked_point_while_others_remain():
    rng = np.random.default_rng(1)
    p = np.repeat(rng.dirichlet(np.ones(3), 3), 10, axis=0)
    h = np.repeat(rng.normal(size=(3, 4)), 10, axis=0)
    chosen = strategies.badge(p, h, 3, seed=0)
    assert sorted(chosen.indices // 10) == [0, 1, 2]


def test_coreset_picks_the_point_farthest_from_the_labelled_ones():
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.05], [0.7, 0.7]])
    chosen = strategies.coreset(x, 2, labeled=np.array([[1.0, 0.0]]))
    assert chosen.indices.tolist() == [3, 2]


def test_random_is_seeded_and_distinct():
    a = select("random", 5, embeddings=np.zeros((20, 2)), seed=4)
    b = select("random", 5, embeddings=np.zeros((20, 2)), seed=4)
    c = select("random", 5, embeddings=np.zeros((20, 2)), seed=5)
    assert a.indices.tolist() == b.indices.tolist() != c.indices.tolist()
    assert len(set(a.indices.tolist())) == 5


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_deterministic_with_its_seed(name):
    points, _ = blobs()
    p = np.random.default_rng(0).dirichlet(np.ones(3), len(points))
    runs = [select(name, 4, embeddings=points, probabilities=p, seed=7)
            for _ in range(2)]
    assert runs[0].indices.tolist() == runs[1].indices.tolist()
    assert len(set(runs[0].indices.tolist())) == 4


def test_select_refuses_what_it_cannot_use():
    points, _ = blobs()
    with pytest.raises(ValueError, match="Unknown selection strategy"):
        select("nope", 2, embeddings=points)
    for budget in (0, len(points) + 1, 2.5):
        with pytest.raises(ValueError, match="budget must be an integer"):
            select("typiclust", budget, embeddings=points)
    with pytest.raises(ValueError, match="reads a model's predictions"):
        select("margin", 2, embeddings=points)
    with pytest.raises(ValueError, match="needs embeddings"):
        select("typiclust", 2, probabilities=np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="same images"):
        select("badge", 2, embeddings=points, probabilities=np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="embeddings' width"):
        select("coreset", 2, embeddings=points, labeled=np.zeros((1, 2)))


def test_probcover_radius_does_not_shrink_with_many_labelled_images():
    # The purity clusters follow the budget, not the labelled count: with
    # 200 labelled images in blob 0 the 3 picks still cover blobs 1-3.
    rng = np.random.default_rng(0)
    centres = np.eye(4)
    pool = np.concatenate([c + rng.normal(0, 0.03, (50, 4)) for c in centres])
    labeled = centres[0] + rng.normal(0, 0.03, (200, 4))
    chosen = strategies.probcover(pool, 3, labeled=labeled)
    assert sorted(chosen.indices // 50) == [1, 2, 3]
    assert chosen.info["coverage"] > 0.95
