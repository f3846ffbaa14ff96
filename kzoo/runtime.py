"""Where a run executes: `tf.distribute` strategy, determinism, mixed
precision, and checks of the output folder.

kzoo does not distribute anything itself: `model.fit` runs under a
`tf.distribute.Strategy` scope, and the wrappers' `train_step`s reduce their
losses so that N replicas give the gradients of one device (see
`kzoo.training.steps`).

Batch size: the batch a dataset yields is the *global* batch. Under a
strategy with N replicas each replica gets `batch_size / N` examples of it
(the last, partial batch is split as evenly as it goes), and the gradients
are summed across replicas into the gradient of the global batch. The same
flags therefore train the same way on 1 device or N: there is nothing to
rescale. To use more devices for speed, raise the global batch size; with
SGD raise the learning rate by the same factor (the linear scaling rule,
Goyal et al. 2017, "Accurate, Large Minibatch SGD", with a warm-up for
large factors); Adam is less sensitive, a square-root factor is the usual
starting point.
"""

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from kzoo.errors import KzooError

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
WORKER_DIR_PREFIX = "workertemp_"


class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """`MultiWorkerMirroredStrategy` whose `reduce` takes what Keras 3 gives it.

    Keras 3's TensorFlow trainer (checked with 3.15) calls
    `strategy.reduce("MEAN", batch, axis=None)` on a whole `(x, y)` batch
    structure before it builds the model, and `reduce("MEAN", loss,
    axis=0)` on scalar logs after every step. `MirroredStrategy` accepts
    both; the collective strategy raises (a nested structure is not a
    tensor; axis 0 of a scalar does not exist), so `fit` fails before the
    first step (keras-team/keras#20585). This subclass reduces each
    element of the structure and drops `axis` for scalars, which is what
    Keras means; the reduction itself is TensorFlow's.
    """

    def reduce(self, reduce_op, value, axis):
        def one(v):
            local = self.experimental_local_results(v)[0]
            scalar = axis is not None and local.shape.rank == 0
            return super(MultiWorkerStrategy, self).reduce(
                reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def make_strategy(name="default"):
    """The `tf.distribute` strategy called `name` (one instance per process).

    Args:
        name: `"default"` (one device), `"mirrored"` (every GPU of this
            machine, else every logical CPU device), `"multiworker"`
            (the cluster in the `TF_CONFIG` environment variable; must be
            created before TensorFlow runs any op) or `"tpu"` (the TPU
            found by `TPUClusterResolver`; untested here).

    Returns:
        A `tf.distribute.Strategy`. The same object for the same name: a
        second `MirroredStrategy` in one process restarts the collective
        keys and later reductions fail.

    Raises:
        KzooError: Unknown name, or `multiworker` without `TF_CONFIG`.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    return _distributed_strategy(name)


@functools.lru_cache(maxsize=None)
def _distributed_strategy(name):
    if name == "mirrored":
        devices = (tf.config.list_logical_devices("GPU")
                   or tf.config.list_logical_devices("CPU"))
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise KzooError(
                "--strategy multiworker reads the cluster from the TF_CONFIG "
                "environment variable, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
                "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": "
                "\"worker\", \"index\": 0}}'; it is not set."
            )
        return MultiWorkerStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise KzooError(
        f"Unknown strategy; expected one of {STRATEGIES}. Received: {name!r}")


def _cluster(strategy):
    """`(task_type, task_id, cluster spec dict)`; `(None, 0, {})` outside a
    multi-worker cluster."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None, 0, {}
    return (resolver.task_type, int(resolver.task_id or 0),
            resolver.cluster_spec().as_dict())


def task_of(strategy=None):
    """`(task_type, task_id, num_tasks)` of this process in its cluster;
    `(None, 0, 1)` outside a multi-worker cluster."""
    task_type, task_id, spec = _cluster(strategy)
    if task_type is None:
        return None, 0, 1
    num_tasks = sum(len(v) for k, v in spec.items() if k in ("chief", "worker"))
    return task_type, task_id, num_tasks


def is_multi_worker(strategy=None):
    return task_of(strategy)[2] > 1


def is_chief(strategy=None):
    """True for the process that writes a run's outputs: the `chief` task,
    else worker 0, else the only process."""
    task_type, task_id, spec = _cluster(strategy)
    if task_type is None:
        return True
    if "chief" in spec:
        return task_type == "chief"
    return task_type == "worker" and task_id == 0


def task_name(strategy=None):
    task_type, task_id, num_tasks = task_of(strategy)
    return "single process" if task_type is None else (
        f"{task_type} {task_id} of {num_tasks}")


def worker_dir(out, strategy=None):
    """Where this process writes: `out` on the chief, a scratch folder
    `out/workertemp_<id>` on the other workers.

    Every worker runs the same code (saving can involve collective ops),
    but only the chief's files are kept; each worker also needs a backup
    folder of its own to resume from.
    """
    if is_chief(strategy):
        return out
    return os.path.join(out, f"{WORKER_DIR_PREFIX}{task_of(strategy)[1]}")


def compile_limits(jit_compile, steps_per_execution, strategy=None):
    """`(jit_compile, steps_per_execution)` the strategy can run.

    Under a strategy with several replicas, Keras 3.15's multi-step loop
    (`steps_per_execution > 1`) fails at its first call ("You must feed a
    value for placeholder tensor 'while/cond/Placeholder'"), with and
    without XLA: one step per execution. On CPU devices XLA fails too:
    across workers "Collectives are not yet implemented for CPU devices
    when compiling with XLA", and across logical CPUs of one machine the
    compiled step reads the second replica's variables from the first
    device (TensorFlow's XLA known issue "tf.Variable on a different
    device"): XLA off there. GPUs keep --jit-compile.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync == 1:
        return jit_compile, steps_per_execution
    on_cpu = not tf.config.list_logical_devices("GPU")
    return jit_compile and not on_cpu, 1


def mixed_precision_policy():
    """`mixed_float16` with a GPU (tensor cores; loss scaling applies),
    else `mixed_bfloat16` (no loss scaling needed)."""
    gpu = tf.config.list_physical_devices("GPU")
    return "mixed_float16" if gpu else "mixed_bfloat16"


def enable_determinism(seed):
    """Seed Python, NumPy and the backend, and make TensorFlow ops
    deterministic (`tf.config.experimental.enable_op_determinism`: for
    the rest of the process; ops without a deterministic kernel raise)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def run_scope(strategy="default", mixed_precision=False, deterministic=False, seed=0):
    """Everything a training run sets up, undone at exit where it can be.

    Args:
        strategy: A name for `make_strategy`.
        mixed_precision: Use `mixed_precision_policy()` as the global dtype
            policy for models built inside (restored at exit).
        deterministic: `enable_determinism(seed)`.
        seed: The run's seed (always passed to `keras.utils.set_random_seed`).

    Yields:
        The strategy, whose scope is entered.
    """
    distribution = make_strategy(strategy)
    if deterministic:
        enable_determinism(seed)
    else:
        keras.utils.set_random_seed(seed)
    policy = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy(mixed_precision_policy())
    try:
        with distribution.scope():
            yield distribution
    finally:
        keras.config.set_dtype_policy(policy)


def check_output_dir(path, needed_bytes=0):
    """Fail now, not after training, when `path` cannot take the outputs.

    Creates `path`, writes and deletes a probe file, and compares the free
    space with `needed_bytes`.

    Raises:
        KzooError: The folder cannot be created or written, or has less
            free space than `needed_bytes`.
    """
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_check") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise KzooError(f"Output folder {path} is not writable: "
                        f"{err.strerror or err}.") from err
    free = shutil.disk_usage(path).free
    if free < needed_bytes:
        raise KzooError(
            f"Output folder {path} has {free / 2**20:.0f} MiB free; this run "
            f"writes about {needed_bytes / 2**20:.0f} MiB (checkpoints, "
            "model files, SavedModel). Free space or choose another --out."
        )


def output_bytes(model, copies=8, logs=32 * 2**20):
    """A generous estimate of what a run writes for `model`: `copies` times
    its float32 weights (the backup with two optimizer slots, `.keras`,
    the SavedModel and its `.keras` copy, ...) plus `logs` bytes."""
    return copies * 4 * int(model.count_params()) + logs


def weights_digest(model):
    """SHA-256 of a model's weights (to compare workers or runs)."""
    digest = hashlib.sha256()
    for value in model.get_weights():
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()
