import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import (
    batched,
    fixmatch_batches,
    items,
    load_data,
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


@pytest.mark.large
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


def _pool_folder(root, n, size=8):
    """`root/train/<a|b>/` (2 images each) and `n` small RGB files in
    `root/unlabeled/`."""
    from kzoo.testing import write_image

    rng = np.random.default_rng(0)
    for name, count in (("train/a", 2), ("train/b", 2), ("unlabeled/u", n)):
        os.makedirs(os.path.join(root, name))
        for i in range(count):
            write_image(os.path.join(root, name, f"{i:04d}.png"),
                        rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return root


@pytest.mark.large
def test_an_uncached_pool_is_shuffled_by_index_a_full_permutation_each_pass(tmp_path):
    root = _pool_folder(str(tmp_path / "ds"), 11)
    data = load_data(root, image_size=(8, 8), val_fraction=0, test_fraction=0.5)
    assert items.indexed(data.unlabeled).count == data.counts["unlabeled"] == 11

    def stream(seed):
        ds = fixmatch_batches(data.train, data.unlabeled, 2, 2, weak=_same,
                              strong=_same, seed=seed, cache_unlabeled=False)
        return iter(ds)

    first, again, other = stream(3), stream(3), stream(4)
    one = [next(first)[0]["unlabeled_index"].numpy().tolist() for _ in range(9)]  # 3 passes
    assert one == [next(again)[0]["unlabeled_index"].numpy().tolist() for _ in range(9)]
    assert one != [next(other)[0]["unlabeled_index"].numpy().tolist() for _ in range(9)]
    assert [len(b) for b in one] == [4, 4, 3] * 3  # each pass ends with its own
    passes = [[i for batch in one[p:p + 3] for i in batch] for p in (0, 3, 6)]
    assert all(sorted(p) == list(range(11)) for p in passes)
    assert passes[0] != passes[1] != passes[2]
    # the images are the pool's, each with its index
    x, _ = next(stream(3))
    pool = np.stack([image for image, _ in data.unlabeled.as_numpy_iterator()])
    np.testing.assert_array_equal(x["weak"], pool[x["unlabeled_index"].numpy()])


def _same(images):
    return images


# A child process builds FixMatch batches of a pool that is not cached and
# reads some: its peak memory must not grow with the pool.
_MEMORY_SCRIPT = textwrap.dedent("""
    import json, os, resource, sys
    # Two cores: the examples read in parallel (one per core) do not depend
    # on the machine.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
    from kzoo.data import fixmatch_batches, load_data
    root, size, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = load_data(root, image_size=(size, size), val_fraction=0,
                     test_fraction=0.5)
    same = lambda images: images
    ds = fixmatch_batches(data.train, data.unlabeled, 2, 4, weak=same,
                          strong=same, seed=0, cache_unlabeled=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read = 0
    for x, _ in ds.take(steps):
        read += len(x["weak"])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth": (after - before) * 1024, "read": read,
                      "pool": data.counts["unlabeled"]}))
""")


@pytest.mark.large
def test_an_uncached_pool_is_never_held_decoded(tmp_path):
    """Before, the shuffle buffer held the whole decoded pool (500 images
    at 448 px: 1.2 GB) before the first batch."""
    size, steps = 448, 6
    root = _pool_folder(str(tmp_path / "ds"), 500)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, root, str(size), str(steps)],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    image = size * size * 3 * 4
    assert out["pool"] == 500 and out["read"] == steps * 8
    # The batches read and those in flight (a few): far below the pool.
    assert out["growth"] < 500 * image / 4, (out, 500 * image)


def test_a_pseudo_labelled_pool_is_read_by_index_as_it_streams(tmp_path):
    root = _pool_folder(str(tmp_path / "ds"), 5)
    data = load_data(root, image_size=(8, 8), val_fraction=0, test_fraction=0.5)
    targets = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1]]
    pool = with_pseudo_labels(data.unlabeled, np.array([0, 2, 1, 0, 1]), targets)
    streamed = list(pool.as_numpy_iterator())
    by_index = list(items.indexed(pool).examples().as_numpy_iterator())
    assert len(by_index) == len(streamed) == 4
    for (x1, t1), (x2, t2) in zip(streamed, by_index, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(t1, t2)
    batches = batched(pool, 3, training=True, seed=0, cache=False, repeat=True)
    assert [len(x) for x, _ in batches.take(4)] == [3, 1, 3, 1]
