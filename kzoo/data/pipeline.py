"""Batching pipelines for `model.fit`: cache, shuffle, batch, prefetch."""

import numpy as np
import tensorflow as tf

from kzoo.data.items import indexed, is_skipped

AUTOTUNE = tf.data.AUTOTUNE
# Without a cache, and for a dataset that cannot be read by index (a TFDS
# split, a transformed dataset), the shuffle buffer holds at most this many
# bytes of examples (and at most SHUFFLE_BUFFER examples).
SHUFFLE_BUFFER_BYTES = 256 * 2**20
SHUFFLE_BUFFER = 10_000


def batched(dataset, batch_size, training=False, seed=None, cache=True,
            map_fn=None, repeat=False, parallel_map=False):
    """Turn an unbatched `(image, label)` dataset into a `fit`-ready one.

    Decoded images are cached in memory (after the first epoch no file is
    read or decoded again); training data is reshuffled every epoch from
    `seed`; `map_fn` (e.g. augmentation) runs on batches after caching.

    With `repeat=True` the dataset is endless (pass `steps_per_epoch` to
    `fit`, see `kzoo.training.plan`): `fit` then keeps one iterator for the whole run
    instead of building one per epoch, which for a large `map_fn` graph
    such as RandAugment's costs ~0.5 s per epoch on 2 CPU cores. Batches
    still follow epochs: `ceil(n / batch_size)` of them per pass, the last
    one partial. Pass e's order is a function of `(seed, e)` alone,
    whichever iterator reads it (see `endless_per_iterator`): the same stream on
    every run, after a resume, and under a `tf.distribute` strategy.

    Without the cache (`cache=False`), memory does not grow with the
    dataset: an endless training stream of a dataset that can be read by
    index (`kzoo.data.items.indexed`: what `load_data` returns) shuffles
    the indices of each pass (`tf.random.experimental.index_shuffle` of
    `(seed, e)`: a full permutation, the same from every iterator) and
    reads only the examples it batches; any other dataset is shuffled in a
    buffer of at most `SHUFFLE_BUFFER_BYTES`.

    A skipped example (`kzoo.data.items.is_skipped`: a file over the pixel
    limit, no longer decodable or gone when it was read again) is dropped
    from its batch, before `map_fn`; a pass keeps its number of batches.

    Args:
        dataset: Unbatched `tf.data.Dataset`.
        batch_size: Batch size.
        training: Shuffle each epoch when True.
        seed: Shuffle seed (each epoch's order is a function of it).
        cache: Cache the decoded examples in memory.
        map_fn: Optional function applied to each batch.
        repeat: Repeat the (reshuffled) examples forever.
        parallel_map: Run `map_fn` on several batches at once. Off by
            default: random augmentation layers share one seed stream, so
            concurrent calls make the draws depend on thread timing and runs
            stop being reproducible. On 2 CPU cores the sequential map (with
            prefetch) trained LeNet-5 as fast as the parallel one; with many
            cores and large images parallel can be faster.

    Returns:
        A batched, prefetched `tf.data.Dataset`.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: batch_size={batch_size}")
    reader = None if cache else indexed(dataset)
    if training and repeat and reader is not None and reader.count > 0:
        dataset = shuffled_passes(reader, batch_size, seed)
    else:
        dataset = _buffered(dataset, batch_size, training, seed, cache, repeat)
    dataset = dataset.map(drop_skipped)
    if map_fn is not None:
        calls = AUTOTUNE if parallel_map else 1
        dataset = dataset.map(map_fn, num_parallel_calls=calls)
    return dataset.prefetch(AUTOTUNE)


def _buffered(dataset, batch_size, training, seed, cache, repeat):
    """Batches of `dataset` shuffled in a buffer: all of it when cached."""
    if cache:
        dataset = dataset.cache()
    size = int(dataset.cardinality())
    buffer = size if size > 0 else SHUFFLE_BUFFER
    if not cache:
        buffer = min(buffer, max(1, SHUFFLE_BUFFER_BYTES // _example_bytes(dataset)))

    def passes(examples):
        if training:
            examples = examples.shuffle(buffer, seed=seed,
                                        reshuffle_each_iteration=True)
        examples = examples.batch(batch_size)
        # Repeat after batching: every pass ends with its own partial batch.
        return examples.repeat() if repeat else examples

    return endless_per_iterator(dataset, passes) if repeat else passes(dataset)


def shuffled_passes(reader, batch_size, seed=None):
    """Endless batches of an `Indexed`'s examples, each pass a permutation.

    Pass e reads the examples in the order `index_shuffle(i, (seed, e))`,
    a pseudorandom permutation computed index by index: nothing but the
    examples of the batches in flight is held, whatever the count, and
    the order is a function of `(seed, e)` alone (no state: every iterator
    sees the same passes). Each pass ends with its own partial batch.

    Args:
        reader: An `Indexed` with at least one example.
        batch_size: Batch size.
        seed: Seed of the orders; None draws one.
    """
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    last = reader.count - 1

    def one_pass(e):
        key = tf.stack([tf.constant(seed, tf.int64), e])
        return reader.examples(
            lambda k: tf.random.experimental.index_shuffle(k, key, last)
        ).batch(batch_size)

    endless = tf.data.Dataset.range(2**62).flat_map(one_pass)
    return endless.apply(
        tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))


def _example_bytes(dataset):
    """Bytes of one example (its static shapes; unknown sizes count 1)."""
    total = 0
    for spec in tf.nest.flatten(dataset.element_spec):
        dims = [d if d is not None else 1 for d in spec.shape]
        total += int(np.prod(dims)) * max(spec.dtype.size, 1)
    return max(total, 1)


def drop_skipped(*batch):
    """A batch without its skipped examples (see `kzoo.data.items.is_skipped`):
    those whose images, the first float component of rank 4, are NaN."""
    batch = batch[0] if len(batch) == 1 else batch
    flat = tf.nest.flatten(batch)
    found = [t for t in flat if t.dtype.is_floating and t.shape.rank == 4]
    if not found:
        return batch
    keep = tf.logical_not(is_skipped(found[0]))
    kept = tf.cond(tf.reduce_all(keep), lambda: flat,
                   lambda: [tf.boolean_mask(t, keep) for t in flat])
    return tf.nest.pack_sequence_as(batch, kept)


def endless_per_iterator(dataset, transform):
    """`transform(dataset)` (an endless dataset), its random state created
    anew for every iterator.

    A seeded `shuffle(reshuffle_each_iteration=True)` draws pass e's order
    from a seed generator that belongs to the dataset, so a second iterator
    continues the sequence where the first stopped. Keras opens such an
    extra iterator under a `tf.distribute` strategy (it draws one batch to
    build the model), and every later order would move on by one. Built
    inside `flat_map`, the dataset's state is created per iterator, and
    pass e gets the same order from every iterator.
    """
    fresh = tf.data.Dataset.range(1).flat_map(lambda _: transform(dataset))
    # flat_map forgets that the result never ends.
    return fresh.apply(
        tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))


def one_hot_labels(num_classes):
    """A batch map function `(x, y) -> (x, one_hot(y))` for `batched`."""

    def fn(x, y):
        return x, tf.one_hot(tf.cast(y, tf.int32), num_classes)

    return fn


def semi_supervised_batches(labeled, unlabeled, batch_size, ratio=1, seed=None,
                            labeled_map=None, unlabeled_map=None,
                            cache_unlabeled=True, targets_key=None):
    """Zip endless labelled and unlabelled batches for `PseudoLabelModel`.

    Args:
        labeled: Unbatched `(image, label)` dataset.
        unlabeled: Unbatched `(image, anything)` dataset; with `targets_key`
            its second element is a pseudo-target kept as `x[targets_key]`.
        batch_size: Labelled images per batch.
        ratio: Unlabelled images per labelled image in a batch.
        seed: Shuffle seed (the unlabelled stream uses `seed + 1`).
        labeled_map: Batch map `(x, y) -> (x, y)` of the labelled stream
            (e.g. augmentation + one-hot).
        unlabeled_map: Batch map `(x, t) -> (x, t)` of the unlabelled stream.
        cache_unlabeled: Keep the decoded unlabelled images in memory; off,
            every epoch streams them from their source (large pools: memory
            does not grow with the pool, see `batched`).
        targets_key: Name under which the unlabelled targets are kept; None
            drops them.

    Returns:
        An endless dataset of `({"images": x_l, "unlabeled": x_u[,
        targets_key: t_u]}, y_l)`; each stream reshuffles per pass and
        ends each pass with a partial batch (see `batched`).
    """
    if ratio < 1:
        raise ValueError(f"`ratio` must be >= 1. Received: ratio={ratio}")
    lab = batched(labeled, batch_size, training=True, seed=seed, map_fn=labeled_map,
                  repeat=True)
    unl = batched(unlabeled, batch_size * int(ratio), training=True,
                  seed=None if seed is None else seed + 1, map_fn=unlabeled_map,
                  repeat=True, cache=cache_unlabeled)

    def combine(lab_batch, unl_batch):
        x = {"images": lab_batch[0], "unlabeled": unl_batch[0]}
        if targets_key is not None:
            x[targets_key] = unl_batch[1]
        return x, lab_batch[1]

    return tf.data.Dataset.zip(lab, unl).map(combine).prefetch(AUTOTUNE)


def fixmatch_batches(labeled, unlabeled, batch_size, ratio, weak, strong,
                     seed=None, labeled_map=None, cache_unlabeled=True,
                     hidden_labels=None):
    """Labelled batches zipped with weak and strong views of unlabelled ones.

    Each unlabelled image is decoded (or read from the cache) once per
    pass; both views are made from that one batch of images inside the
    pipeline, so no file is read twice. Pool images carry their index in
    the pool (`"unlabeled_index"`, FlexMatch's per-image state) and, with
    `hidden_labels`, their true label where known (`"unlabeled_labels"`,
    -1 elsewhere), for logging only.

    Args:
        labeled: Unbatched `(image, label)` dataset.
        unlabeled: Unbatched `(image, anything)` pool, in a fixed order.
        batch_size: Labelled images per batch.
        ratio: Unlabelled images per labelled image (FixMatch's μ).
        weak: Batch function `images -> images` (e.g. an `AugmentPolicy`).
        strong: Batch function `images -> images`.
        seed: Shuffle seed (the pool uses `seed + 1`).
        labeled_map: Batch map `(x, y) -> (x, y)` of the labelled stream.
        cache_unlabeled: Keep the decoded pool in memory (else it is
            streamed from its source every pass, shuffled by index: memory
            does not grow with the pool, see `batched`).
        hidden_labels: Optional int `[N]` true labels of the pool (-1:
            unknown), in the pool's order.

    Returns:
        An endless dataset of `({"images": x_l, "weak": w, "strong": s,
        "unlabeled_index": i[, "unlabeled_labels": h]}, y_l)`.
    """
    if ratio < 1:
        raise ValueError(f"`ratio` must be >= 1. Received: ratio={ratio}")
    lab = batched(labeled, batch_size, training=True, seed=seed,
                  map_fn=labeled_map, repeat=True)
    hidden = None if hidden_labels is None else tf.constant(hidden_labels, tf.int32)

    def views(index, example):
        images = example[0]
        out = {"weak": weak(images), "strong": strong(images),
               "unlabeled_index": index}
        if hidden is not None:
            out["unlabeled_labels"] = tf.gather(hidden, index)
        return out

    pool = unlabeled.enumerate()
    reader = indexed(unlabeled)
    if reader is not None:  # readable by index: so is the enumerated pool
        reader.map(lambda i, example: (i, example)).attach(pool)
    unl = batched(pool, batch_size * int(ratio), training=True,
                  seed=None if seed is None else seed + 1, map_fn=views,
                  repeat=True, cache=cache_unlabeled)

    def combine(lab_batch, unl_batch):
        return {"images": lab_batch[0], **unl_batch}, lab_batch[1]

    return tf.data.Dataset.zip(lab, unl).map(combine).prefetch(AUTOTUNE)


def simclr_batches(pool, batch_size, augment, seed=None, cache=True):
    """Endless batches of two augmented views of each pool image (SimCLR).

    Each image is decoded (or read from the cache) once per pass and both
    views are drawn from that one batch, by two calls of `augment` (each
    call draws anew).

    Args:
        pool: Unbatched `(image, anything)` dataset.
        batch_size: Images per batch (2 x as many views).
        augment: Batch function `images -> images` (an `AugmentPolicy`).
        seed: Shuffle seed.
        cache: Keep the decoded pool in memory (see `batched`).

    Returns:
        An endless dataset of `{"images": view_1, "views": view_2}`.
    """

    def views(images, _):
        return {"images": augment(images), "views": augment(images)}

    return batched(pool, batch_size, training=True, seed=seed, map_fn=views,
                   repeat=True, cache=cache)


def with_pseudo_labels(dataset, repeats, targets):
    """Stream a pool with per-image pseudo-targets, each image `repeats[i]`
    times (0 = left out), in the pool's order.

    Args:
        dataset: Unbatched `(image, label)` pool, in the same order as when
            it was pseudo-labelled.
        repeats: int `[N]` copies per image (see `select_pseudo_labels`).
        targets: float `[N, classes]` targets.

    Returns:
        An unbatched `(image, target)` dataset of `sum(repeats)` examples;
        nothing is held in memory beyond the targets. It can be read by
        index (`kzoo.data.items.indexed`) when `dataset` can.
    """
    sources = np.repeat(np.arange(len(repeats)), np.asarray(repeats, np.int64))
    repeats = tf.constant(repeats, tf.int64)
    targets = tf.constant(targets, tf.float32)

    def expand(i, example):
        pair = tf.data.Dataset.from_tensors((example[0], targets[i]))
        return pair.repeat(repeats[i])

    expanded = (
        dataset.enumerate()
        .filter(lambda i, example: repeats[i] > 0)
        .flat_map(expand)
    )
    reader = indexed(dataset)
    if reader is None:
        return expanded
    return reader.map(lambda i, example: (example[0], targets[i]),
                      sources=sources).attach(expanded)
