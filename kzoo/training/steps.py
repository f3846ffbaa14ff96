"""TensorFlow pieces of `WrapperModel.train_step`.

Under `tf.distribute`, each replica computes gradients on its share of the
global batch and the optimizer *sums* them across replicas. A loss that is the
mean over the replica's own examples therefore gives N times the gradient on
N replicas. Keras's loss objects divide by the replica count; kzoo divides the
replica's loss *sum* by the global number of examples, which is also exact
when the last batch is split unevenly.
"""

import tensorflow as tf


def global_sum(value):
    """Sum of a replica-local value over all replicas (itself on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def batch_size(tensor):
    """Number of examples on this replica, as float32."""
    return tf.cast(tf.shape(tensor)[0], tf.float32)


def loss_for_gradients(per_example):
    """This replica's loss sum over the global batch size.

    Summed over replicas (as the optimizer does with gradients) it is the
    mean over the global batch.
    """
    count = global_sum(batch_size(per_example))
    return tf.reduce_sum(per_example) / tf.maximum(count, 1.0)


def objective(values, weights):
    """This replica's share of `Σ weight · (global mean of values[key])`.

    Args:
        values: Dict of key -> this replica's per-example values.
        weights: Dict of key -> weight (a float or a scalar tensor) of the
            terms that make the loss, in the order they are summed.

    Returns:
        A float32 scalar; summed over replicas (as the optimizer does with
        gradients) it is the weighted sum of the global means.

    Raises:
        KeyError: If a weighted key has no values.
    """
    total = None
    for key, weight in weights.items():
        if key not in values:
            raise KeyError(
                f"The loss weighs the term {key!r}, which `forward` did not "
                f"return. Received: terms={sorted(values)}"
            )
        term = tf.cast(weight, tf.float32) * loss_for_gradients(values[key])
        total = term if total is None else total + term
    return total
