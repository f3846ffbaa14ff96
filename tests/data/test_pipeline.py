import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import (
    batched,
    semi_supervised_batches,
    with_pseudo_labels,
)


def test_repeated_training_data_is_endless_reshuffled_and_keeps_epochs():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(10), np.arange(10)))
    train = batched(ds, 4, training=True, seed=0, repeat=True)
    assert train.cardinality() == tf.data.INFINITE_CARDINALITY
    batches = [x.numpy() for x, _ in train.take(6)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)


def test_augmented_pipeline_is_reproducible_across_builds():
    # With parallel_map=True this fails: concurrent calls share the layers'
    # seed stream, so the draws depend on thread timing.
    from kzoo.augment import AugmentPolicy

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (48, 16, 16, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(48) % 3))

    def run():
        policy = AugmentPolicy("crop,randaugment(n=2,m=9),mixup", (16, 16), 3, seed=4)
        train = batched(ds, 8, training=True, seed=1, map_fn=policy.map_fn, repeat=True)
        return [(x.numpy(), y.numpy()) for x, y in train.take(12)]  # two epochs

    first, second = run(), run()
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def _pool(n=5):
    """Images whose every pixel is their index; labels -1."""
    x = np.arange(n, dtype="float32")[:, None, None, None] * np.ones((1, 2, 2, 1))
    labels = -np.ones(n, "int32")
    return tf.data.Dataset.from_tensor_slices((x.astype("float32"), labels))


def test_with_pseudo_labels_repeats_and_drops_in_pool_order():
    targets = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1]]
    ds = with_pseudo_labels(_pool(), np.array([0, 2, 1, 0, 1]), targets)
    pairs = [(int(x[0, 0, 0]), t.argmax()) for x, t in ds.as_numpy_iterator()]
    assert pairs == [(1, 1), (1, 1), (2, 2), (4, 1)]


def test_semi_supervised_batches_pair_labelled_and_ratio_unlabelled():
    labelled = tf.data.Dataset.from_tensor_slices(
        (np.zeros((6, 2, 2, 1), "float32"), np.arange(6, dtype="int32")))
    targets = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1]]
    pool = with_pseudo_labels(_pool(), np.ones(5, "int64"), targets)
    ds = semi_supervised_batches(labelled, pool, batch_size=2, ratio=2, seed=0,
                                 targets_key="pseudo_targets")
    batches = list(ds.take(4).as_numpy_iterator())
    x, y = batches[0]
    assert set(x) == {"images", "unlabeled", "pseudo_targets"}
    assert x["images"].shape == (2, 2, 2, 1) and y.shape == (2,)
    assert x["unlabeled"].shape == (4, 2, 2, 1) and x["pseudo_targets"].shape == (4, 3)
    # targets stay with their images through the shuffle
    for x, _ in batches:
        index = x["unlabeled"][:, 0, 0, 0].astype(int)
        np.testing.assert_array_equal(x["pseudo_targets"], targets[index])
    # the pool's 5 images: batches of 4 then 1, then the next pass
    assert [len(x["unlabeled"]) for x, _ in batches] == [4, 1, 4, 1]
    without = semi_supervised_batches(labelled, pool, 2, ratio=2)
    assert set(next(iter(without))[0]) == {"images", "unlabeled"}
    with pytest.raises(ValueError, match="ratio"):
        semi_supervised_batches(labelled, pool, 2, ratio=0)


def test_every_iterator_of_a_seeded_endless_stream_sees_the_same_passes():
    # Keras opens an extra iterator under tf.distribute before training; a
    # resumed run opens a new one. Both must see pass e in pass e's order.
    data = tf.data.Dataset.from_tensor_slices((np.arange(10), np.zeros(10)))
    stream = batched(data, 4, training=True, seed=3, repeat=True)
    first, second = iter(stream), iter(stream)
    one = [next(first)[0].numpy().tolist() for _ in range(9)]  # 3 passes
    two = [next(second)[0].numpy().tolist() for _ in range(9)]
    assert one == two
    passes = [sorted(sum(one[i:i + 3], [])) for i in (0, 3, 6)]
    assert passes == [list(range(10))] * 3  # each pass is every example once
    assert one[0:3] != one[3:6]  # and reshuffled between passes
