"""Batching pipelines for `model.fit`: cache, shuffle, batch, prefetch."""

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def batched(dataset, batch_size, training=False, seed=None, cache=True,
            map_fn=None):
    """Turn an unbatched `(image, label)` dataset into a `fit`-ready one.

    Decoded images are cached in memory (after the first epoch no file is
    read or decoded again); training data is reshuffled every epoch from
    `seed`; `map_fn` (e.g. augmentation) runs on batches after caching.

    Args:
        dataset: Unbatched `tf.data.Dataset`.
        batch_size: Batch size.
        training: Shuffle each epoch when True.
        seed: Shuffle seed (each epoch's order is a function of it).
        cache: Cache the decoded examples in memory.
        map_fn: Optional function applied to each batch.

    Returns:
        A batched, prefetched `tf.data.Dataset`.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    if cache:
        dataset = dataset.cache()
    if training:
        size = int(dataset.cardinality())
        buffer = size if size > 0 else 10_000
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if map_fn is not None:
        dataset = dataset.map(map_fn, num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def one_hot_labels(num_classes):
    """A batch map function `(x, y) -> (x, one_hot(y))` for `batched`."""

    def fn(x, y):
        return x, tf.one_hot(tf.cast(y, tf.int32), num_classes)

    return fn
