"""Confidence strategies of `FixMatchModel`: which unlabelled images train
on their pseudo-label, and with what weight.

A strategy is a Keras layer that holds its state as weights (saved with
the model, one copy kept on many replicas, updated from the global batch)
and says, for the weak view's class probabilities of one batch, a weight
per image and its pseudo-label (`weigh`); it may add a term to the loss
(`extra_loss`). `FixMatchModel(network, confidence=...)` takes one:

| strategy         | weight of an unlabelled image                         |
|------------------|-------------------------------------------------------|
| `FixedThreshold` | 1 where max p >= τ (FixMatch)                          |
| `FlexMatch`      | 1 where max p >= τ · M(β_c), β_c per class (curriculum) |
| `FreeMatch`      | 1 where max p >= τ_t · p̃_t(c) / max p̃_t (self-adaptive) |
| `SoftMatch`      | a truncated Gaussian of max p (mean, variance: EMAs)  |

`CONFIDENCE` maps their names (`kzoo fixmatch --variant NAME`) to them.
Adding one: a subclass here with `build_state`, `weigh` and `get_config`,
a `CONFIDENCE` entry, its tests (see CONTRIBUTING.md).

The strategies are not registered Keras serializables: a strategy is
training state of a `FixMatchModel`, which kzoo never saves as a Keras
file (it exports the averaged network); their state travels in the
model's weights (`save_weights`, kzoo's backups), and `get_config` /
`from_config` rebuild one. (`import kzoo` registers its serializables the
moment Keras is imported; this module needs TensorFlow and the rest of
`kzoo.semi_supervised`, which that must not import.)
"""

import keras
import tensorflow as tf

from kzoo.training import steps


def gather_replicas(value):
    """`value` ([n, ...]) of every replica, concatenated in replica order
    (itself on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_gather(value, axis=0)


def global_mean(values, weights=None):
    """Mean over the global batch of `values` (`[n, ...]`, over axis 0),
    weighted by `weights` (`[n]`) when given; 0 where nothing is weighted."""
    if weights is None:
        weights = tf.ones(tf.shape(values)[:1], tf.float32)
    shape = tf.concat([tf.shape(weights), tf.ones(tf.rank(values) - 1, tf.int32)], 0)
    total = steps.global_sum(tf.reduce_sum(values * tf.reshape(weights, shape), 0))
    return tf.math.divide_no_nan(total, steps.global_sum(tf.reduce_sum(weights)))


def _no_inf(values):
    """`values` with ±inf (a division by 0) replaced by 0."""
    return tf.where(tf.math.is_inf(values), tf.zeros_like(values), values)


def _sum_normalised(values):
    return tf.math.divide_no_nan(values, tf.reduce_sum(values, -1, keepdims=True))


class ConfidenceStrategy(keras.layers.Layer):
    """Base class: a strategy's state and its per-image weights.

    Built by `FixMatchModel` with the input shape `(None, num_classes)`.
    Subclasses create their state in `build_state` (with `state`) and
    write `weigh`; one with a loss term of its own writes `extra_loss`
    and sets `extra_loss_weight`.
    """

    title = "confidence"  # the method's name in plots and reports
    needs_index = False  # `weigh` needs each image's index in the pool
    extra_loss_weight = 0.0

    @classmethod
    def from_options(cls, threshold=0.95, pool_size=None):
        """The strategy with its defaults, given a run's τ and pool size
        (each strategy takes what it uses)."""
        return cls()

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.num_classes = int(input_shape[-1])
        self.build_state(self.num_classes)
        self.built = True

    def build_state(self, num_classes):
        """Create the state variables (default: none)."""

    def state(self, name, shape, value, dtype="float32"):
        """A state variable filled with `value`: not trained, one copy on
        many replicas (every replica assigns the same global value)."""
        return self.add_weight(
            shape=shape, initializer=keras.initializers.Constant(value),
            dtype=dtype, trainable=False, aggregation="only_first_replica",
            name=name)

    def weigh(self, probs, index=None):
        """Update the state with one batch; its weights and pseudo-labels.

        Args:
            probs: float32 `[u, C]`: the weak view's class probabilities
                (no gradient).
            index: int `[u]`: each image's index in the pool (for a
                strategy with `needs_index`).

        Returns:
            `(weights, pseudo_labels)`: float32 `[u]` in [0, 1], int32 `[u]`.
        """
        raise NotImplementedError(f"{type(self).__name__} must define `weigh`.")

    def extra_loss(self, strong_logits, weights):
        """A loss term of the strategy's own on the strong view: a float32
        scalar, the same on every replica, or None (default)."""
        return

    def call(self, probs):  # a layer must be callable; `weigh` is the API
        return self.weigh(probs)[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


class FixedThreshold(ConfidenceStrategy):
    """FixMatch: an image trains on its pseudo-label when its confidence
    reaches τ (weight 1), else not at all (weight 0).

    Args:
        threshold: τ in [0, 1] (0.95 in the paper).

    Reference:
        Sohn et al. "FixMatch", NeurIPS 2020.
    """

    title = "FixMatch"

    @classmethod
    def from_options(cls, threshold=0.95, pool_size=None):
        return cls(threshold)

    def __init__(self, threshold=0.95, **kwargs):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"`threshold` must be in [0, 1]. Received: threshold={threshold}")
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def weigh(self, probs, index=None):
        confidence = tf.reduce_max(probs, axis=-1)
        pseudo = tf.argmax(probs, axis=-1, output_type=tf.int32)
        return tf.cast(confidence >= self.threshold, tf.float32), pseudo

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def flexmatch_beta(selected, num_classes, warmup=True):
    """FlexMatch's learning effect β_c of each class.

    Args:
        selected: int `[N]`: per unlabelled image, the class its prediction
            last reached τ with, or -1 (never yet).
        num_classes: C.
        warmup: Threshold warm-up: the images never selected count as one
            more class in the normaliser, so early thresholds stay low.

    Returns:
        float32 `[C]`: `σ_c / max(max_c σ_c, [#unselected])`, where σ_c is
        the number of images selected for class c (0 while none is).
    """
    counts = tf.math.unsorted_segment_sum(
        tf.ones_like(selected, tf.float32), selected + 1, num_classes + 1)
    unused, sigma = counts[0], counts[1:]
    normaliser = tf.reduce_max(sigma)
    if warmup:
        normaliser = tf.maximum(normaliser, unused)
    return tf.math.divide_no_nan(sigma, normaliser)


def flexmatch_thresholds(beta, threshold):
    """Class-wise thresholds `τ · M(β_c)` with FlexMatch's convex mapping
    `M(x) = x / (2 − x)`."""
    return threshold * beta / (2.0 - beta)


class FlexMatch(FixedThreshold):
    """FlexMatch: class-wise curriculum thresholds `τ · M(β_c)` for the
    predicted class c (`flexmatch_beta`, `flexmatch_thresholds`).

    Its state is, per unlabelled image, the class it last reached τ with
    (`selected_label`, -1 before), updated from the global batch *before*
    the batch is masked, so a batch's own selections count towards its
    thresholds. USB's `FlexMatchThresholdingHook` masks with the state of
    the batches before and updates after; kzoo's order is the one its
    measured FlexMatch results (the README's tables) were run with.

    Args:
        threshold: τ, the highest class threshold.
        pool_size: Unlabelled images (the state has one entry each).
        warmup: The threshold warm-up (see `flexmatch_beta`).

    Reference:
        Zhang et al. "FlexMatch: Boosting Semi-Supervised Learning with
        Curriculum Pseudo Labeling", NeurIPS 2021.
    """

    title = "FlexMatch"
    needs_index = True

    @classmethod
    def from_options(cls, threshold=0.95, pool_size=None):
        return cls(threshold, pool_size=pool_size)

    def __init__(self, threshold=0.95, pool_size=None, warmup=True, **kwargs):
        if not (pool_size and pool_size > 0):
            raise ValueError("FlexMatch keeps a state per unlabelled image: pass "
                             f"`pool_size` > 0. Received: pool_size={pool_size}")
        super().__init__(threshold, **kwargs)
        self.pool_size = int(pool_size)
        self.warmup = bool(warmup)

    def build_state(self, num_classes):
        self.selected_label = self.state("selected_label", (self.pool_size,), -1,
                                         "int32")

    def weigh(self, probs, index=None):
        if index is None:
            raise ValueError(
                "FlexMatch needs each unlabelled image's pool index in "
                "x['unlabeled_index'] (see kzoo.data.fixmatch_batches).")
        confidence = tf.reduce_max(probs, axis=-1)
        pseudo = tf.argmax(probs, axis=-1, output_type=tf.int32)
        self.update_selected(index, pseudo, confidence >= self.threshold)
        thresholds = flexmatch_thresholds(
            flexmatch_beta(self.selected_label, self.num_classes, self.warmup),
            self.threshold)
        return tf.cast(confidence >= tf.gather(thresholds, pseudo), tf.float32), pseudo

    def update_selected(self, index, pseudo, selected):
        """The images that reached τ keep their class."""
        index, pseudo, selected = (gather_replicas(v) for v in (
            tf.cast(index, tf.int32), pseudo, tf.cast(selected, tf.int32)))
        keep = tf.cast(selected, tf.bool)
        self.selected_label.assign(tf.tensor_scatter_nd_update(
            self.selected_label.value, tf.boolean_mask(index, keep)[:, None],
            tf.boolean_mask(pseudo, keep)))

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size,
                "warmup": self.warmup}


def _check_momentum(momentum):
    if not 0.0 <= momentum < 1.0:
        raise ValueError(
            f"`momentum` must be in [0, 1). Received: momentum={momentum}")


class FreeMatch(ConfidenceStrategy):
    """FreeMatch: a self-adaptive threshold and a fairness term.

    State (EMAs with `momentum` over the global batches): τ_t, the mean
    max confidence; p̃_t, the mean class probabilities; h̃_t, the
    histogram of predicted classes; all start at 1/C. Each batch first
    updates them, then an image trains (weight 1) where
    `max p >= τ_t · p̃_t(c) / max_c p̃_t` for its predicted class c.

    The self-adaptive fairness term (`extra_loss`, weight
    `fairness_weight`) is `−H(SumNorm(p̃_t / h̃_t), SumNorm(p̄ / h̄))`
    where p̄ and h̄ are the mean strong-view probabilities and the
    histogram of strong-view predictions of the images that trained; 0
    when none did.

    USB's `FreeMatchThresholingHook` and `entropy_loss`
    (`semilearn/algorithms/freematch/`) compute the same, from the same
    start (1/C in its current code; an earlier version started τ at 1),
    and `fairness_weight` is its `ent_loss_ratio` (default 0.01).

    Args:
        momentum: EMA momentum λ (0.999).
        fairness_weight: λ_f, the fairness term's weight (0: none).

    Reference:
        Wang et al. "FreeMatch: Self-adaptive Thresholding for
        Semi-supervised Learning", ICLR 2023.
    """

    title = "FreeMatch"

    def __init__(self, momentum=0.999, fairness_weight=0.01, **kwargs):
        _check_momentum(momentum)
        if not fairness_weight >= 0:
            raise ValueError("`fairness_weight` must be >= 0. Received: "
                             f"fairness_weight={fairness_weight}")
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.fairness_weight = float(fairness_weight)
        self.extra_loss_weight = self.fairness_weight

    def build_state(self, num_classes):
        uniform = 1.0 / num_classes
        self.time_threshold = self.state("time_threshold", (), uniform)
        self.class_probs = self.state("class_probs", (num_classes,), uniform)
        self.label_hist = self.state("label_hist", (num_classes,), uniform)

    def weigh(self, probs, index=None):
        m = self.momentum
        confidence = tf.reduce_max(probs, axis=-1)
        pseudo = tf.argmax(probs, axis=-1, output_type=tf.int32)
        hist = global_mean(tf.one_hot(pseudo, self.num_classes))
        self.time_threshold.assign(
            m * self.time_threshold + (1 - m) * global_mean(confidence[:, None])[0])
        self.class_probs.assign(m * self.class_probs + (1 - m) * global_mean(probs))
        self.label_hist.assign(m * self.label_hist + (1 - m) * hist)
        thresholds = self.thresholds()
        return tf.cast(confidence >= tf.gather(thresholds, pseudo), tf.float32), pseudo

    def thresholds(self):
        """`τ_t · p̃_t(c) / max p̃_t` of every class c."""
        return self.time_threshold * self.class_probs / tf.reduce_max(self.class_probs)

    def extra_loss(self, strong_logits, weights):
        probs = tf.nn.softmax(tf.cast(strong_logits, tf.float32))
        predicted = tf.one_hot(tf.argmax(probs, -1), self.num_classes)
        mean_probs = global_mean(probs, weights)
        hist = global_mean(predicted, weights)
        model = _sum_normalised(self.class_probs * _no_inf(1.0 / self.label_hist))
        batch = _sum_normalised(mean_probs * _no_inf(1.0 / hist))
        fairness = tf.reduce_sum(tf.stop_gradient(model) * tf.math.log(batch + 1e-12))
        any_selected = steps.global_sum(tf.reduce_sum(weights)) > 0
        return tf.where(any_selected, fairness, 0.0)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "fairness_weight": self.fairness_weight}


class SoftMatch(ConfidenceStrategy):
    """SoftMatch: every image trains, weighted by a truncated Gaussian of
    its confidence.

    The weak view's probabilities are first aligned to a uniform class
    distribution (`p · u / p̃`, renormalised; p̃ the EMA of the mean
    prediction), as USB's `DistAlignEMAHook` does by default; then, with
    μ_t and σ²_t the EMAs (over the global batches) of the mean and the
    unbiased variance of the aligned max confidence (starting at 1/C and
    1), an image of aligned confidence p weighs
    `exp(−min(p − μ_t, 0)² / (2 σ²_t / n_sigma²))`: 1 at and above μ_t,
    less below. Its pseudo-label is the argmax of the probabilities
    before alignment (as USB's).

    USB's `SoftMatchWeightingHook` (`semilearn/algorithms/softmatch/`)
    computes the same; its p̃ starts at the first batch's mean, kzoo's at
    uniform.

    Args:
        momentum: EMA momentum (0.999).
        n_sigma: Width of the Gaussian in standard deviations (2).
        alignment: Uniform distribution alignment before weighting.

    Reference:
        Chen et al. "SoftMatch: Addressing the Quantity-Quality Trade-off
        in Semi-supervised Learning", ICLR 2023.
    """

    title = "SoftMatch"

    def __init__(self, momentum=0.999, n_sigma=2.0, alignment=True, **kwargs):
        _check_momentum(momentum)
        if not n_sigma > 0:
            raise ValueError(f"`n_sigma` must be > 0. Received: n_sigma={n_sigma}")
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.n_sigma = float(n_sigma)
        self.alignment = bool(alignment)

    def build_state(self, num_classes):
        self.mean = self.state("mean", (), 1.0 / num_classes)
        self.variance = self.state("variance", (), 1.0)
        if self.alignment:
            self.class_probs = self.state("class_probs", (num_classes,),
                                          1.0 / num_classes)

    def weigh(self, probs, index=None):
        m = self.momentum
        pseudo = tf.argmax(probs, axis=-1, output_type=tf.int32)
        if self.alignment:
            self.class_probs.assign(m * self.class_probs + (1 - m) * global_mean(probs))
            probs = _sum_normalised(
                probs * (1.0 / self.num_classes + 1e-6) / (self.class_probs + 1e-6))
        confidence = tf.reduce_max(probs, axis=-1)
        count = steps.global_sum(steps.batch_size(confidence))
        mean = global_mean(confidence[:, None])[0]
        squares = steps.global_sum(tf.reduce_sum(tf.square(confidence - mean)))
        variance = tf.math.divide_no_nan(squares, count - 1.0)
        self.mean.assign(m * self.mean + (1 - m) * mean)
        self.variance.assign(m * self.variance + (1 - m) * variance)
        return self.gaussian(confidence), pseudo

    def gaussian(self, confidence):
        """The weight of each confidence under the current μ_t and σ²_t."""
        below = tf.minimum(confidence - self.mean, 0.0)
        return tf.exp(-tf.square(below) / (2.0 * self.variance / self.n_sigma**2))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "n_sigma": self.n_sigma, "alignment": self.alignment}


# `kzoo fixmatch --variant NAME`: the strategy of each name.
CONFIDENCE = {
    "fixmatch": FixedThreshold,
    "flexmatch": FlexMatch,
    "freematch": FreeMatch,
    "softmatch": SoftMatch,
}


def get_confidence(name, threshold=0.95, pool_size=None):
    """The strategy called `name` with its defaults, τ and the pool size
    where it takes them.

    Raises:
        ValueError: An unknown name.
    """
    if name not in CONFIDENCE:
        raise ValueError(f"Unknown confidence strategy {name!r}; one of "
                         f"{sorted(CONFIDENCE)}. Received: name={name!r}")
    return CONFIDENCE[name].from_options(threshold, pool_size)


__all__ = ["CONFIDENCE", "ConfidenceStrategy", "FixedThreshold", "FlexMatch",
           "FreeMatch", "SoftMatch", "flexmatch_beta", "flexmatch_thresholds",
           "get_confidence"]
