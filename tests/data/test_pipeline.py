import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import batched, plan_steps


@pytest.mark.parametrize(
    "num,batch,requested,expected",
    [
        (100, 16, 32, (7, 7)),  # fewer steps than one execution
        (1293, 16, 32, (81, 27)),  # largest divisor >= half the request
        (83 * 16, 16, 32, (96, 32)),  # prime step count: epoch rounded up
        (64, 16, 1, (4, 1)),
    ],
)
def test_plan_steps(num, batch, requested, expected):
    steps, per_execution = plan_steps(num, batch, requested)
    assert (steps, per_execution) == expected
    assert steps % per_execution == 0 and steps >= -(-num // batch)


def test_repeated_training_data_is_endless_reshuffled_and_keeps_epochs():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(10), np.arange(10)))
    train = batched(ds, 4, training=True, seed=0, repeat=True)
    assert train.cardinality() == tf.data.INFINITE_CARDINALITY
    batches = [x.numpy() for x, _ in train.take(6)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)
