"""`FixMatchModel`: consistency training on weak and strong views (Sohn et
al. 2020), with FlexMatch's class-wise thresholds (Zhang et al. 2021) and
ReMixMatch's distribution alignment (Berthelot et al. 2020) as options,
and an exponential moving average of the weights for evaluation and export.
"""

import keras
import tensorflow as tf

from kzoo.training import losses, steps
from kzoo.training.wrapper import LossTerms, WrapperModel, images_of

WEAK = "weak"
STRONG = "strong"
UNLABELED_INDEX = "unlabeled_index"
UNLABELED_LABELS = "unlabeled_labels"
WEAK_LOGITS = "weak_logits"
WEAK_PASSES = ("auto", "joint", "separate")


def _replicated(value, dtype, name):
    """A non-trainable state variable that every replica updates with the
    same value (computed from all replicas' examples): one copy is kept."""
    return keras.Variable(value, dtype=dtype, trainable=False, name=name,
                          aggregation="only_first_replica")


def gather_replicas(value):
    """`value` ([n, ...]) of every replica, concatenated in replica order
    (itself on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_gather(value, axis=0)


def align_distribution(probs, model_distribution, target_distribution):
    """ReMixMatch's distribution alignment: `probs · p(y) / p̃(y)`,
    renormalised (`p̃`: the running mean of the model's unlabelled
    predictions, `p(y)`: the labelled class distribution)."""
    aligned = probs * (target_distribution + 1e-6) / (model_distribution + 1e-6)
    return aligned / tf.reduce_sum(aligned, axis=-1, keepdims=True)


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


class FixMatchModel(WrapperModel):
    """Train `network` with FixMatch on labelled and unlabelled batches.

    Each batch is `({"images": x_l, "weak": w, "strong": s, ...}, y_l)`
    (`kzoo.data.fixmatch_batches`): `w` and `s` are a weak and a strong
    augmentation of the same `μ · B` unlabelled images. The loss is

        mean_l CE(y_l, f(x_l)) + λ_u · mean_u [max q_u >= τ_u] · CE(argmax q_u, f(s_u))

    where `q_u = softmax(f(w_u))` without gradient (the pseudo-label). The
    unlabelled mean runs over all `μ · B` images, those below the
    threshold counting 0. In the paper the three go through the network in
    one training-mode pass, which matters where a training-mode pass
    updates state (batch-norm statistics over all three). `weak_pass`:
    `"joint"` is that; `"separate"` runs the weak view in its own
    training-mode pass before the gradient tape (no gradient recorded or
    computed for it: on LeNet-5 at μ = 7 a step costs less, see
    benchmarks/bench_fixmatch.py); `"auto"` is `"separate"` for a network
    without non-trainable state (no batch normalization), else `"joint"`.
    Options of the same model:

    - `flexmatch=True`: class-wise thresholds `τ_u = τ · M(β_c)` for the
      predicted class c (`flexmatch_beta`, `flexmatch_thresholds`). Needs
      `pool_size` and `x["unlabeled_index"]` (each image's index in the
      pool); the per-image state is a variable, kept with the weights.
    - `distribution_alignment=True`: `q_u` is aligned to the labelled class
      distribution before thresholding (`align_distribution`), `p̃` a
      moving average (`alignment_momentum`) of the model's predictions.

    `ema_decay > 0` keeps an exponential moving average of the trainable
    weights, updated after every step. Evaluation (`test_step`, `predict`,
    `call` outside training) uses it, and `averaged_network()` is the
    network with it, for export. The non-trainable weights (batch-norm
    statistics) are the network's own.

    Logged: `loss`, `labeled_loss`, `unlabeled_loss` (over all unlabelled
    images), `mask_rate`, and with `x["unlabeled_labels"]` (hidden labels,
    -1 where unknown) `pseudo_label_accuracy`: the accuracy of the
    pseudo-labels that passed the threshold among those whose label is
    known; NaN (n/a, never 0) while none of them did (see `SelectedMean`).
    Without `x["unlabeled_labels"]` it is not logged. Every mean and state
    update is over the global batch, so 2 replicas train as one device.

    Args:
        network: The classifier to train; it returns logits.
        threshold: Confidence τ in [0, 1] (0.95 in the paper).
        unlabeled_weight: λ_u (1 in the paper).
        flexmatch: Class-wise curriculum thresholds.
        pool_size: Unlabelled images (needed with `flexmatch`).
        threshold_warmup: FlexMatch's warm-up (see `flexmatch_beta`).
        distribution_alignment: Align the pseudo-label distribution.
        target_distribution: `[C]` p(y) for the alignment (default uniform).
        alignment_momentum: Momentum of the running model distribution.
        ema_decay: Decay of the weight average (0: none, evaluate the network).
        label_smoothing: Label smoothing of the labelled cross-entropy.
        weak_pass: `"auto"`, `"joint"` or `"separate"` (see above).
        name: Model name.

    Reference:
        Sohn et al. "FixMatch: Simplifying Semi-Supervised Learning with
        Consistency and Confidence", NeurIPS 2020. Zhang et al. "FlexMatch:
        Boosting Semi-Supervised Learning with Curriculum Pseudo Labeling",
        NeurIPS 2021. Berthelot et al. "ReMixMatch", ICLR 2020.
    """

    LOSS_KEYS = ("labeled_loss", "unlabeled_loss", "mask_rate",
                 "pseudo_label_accuracy")
    SELECTED_KEYS = ("pseudo_label_accuracy",)

    def __init__(self, network, threshold=0.95, unlabeled_weight=1.0,
                 flexmatch=False, pool_size=None, threshold_warmup=True,
                 distribution_alignment=False, target_distribution=None,
                 alignment_momentum=0.999, ema_decay=0.999, label_smoothing=0.0,
                 weak_pass="auto", name="fixmatch", **kwargs):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"`threshold` must be in [0, 1]. Received: threshold={threshold}")
        if not unlabeled_weight >= 0:
            raise ValueError("`unlabeled_weight` must be >= 0. Received: "
                             f"unlabeled_weight={unlabeled_weight}")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(
                f"`ema_decay` must be in [0, 1). Received: ema_decay={ema_decay}")
        if not 0.0 <= alignment_momentum < 1.0:
            raise ValueError("`alignment_momentum` must be in [0, 1). Received: "
                             f"alignment_momentum={alignment_momentum}")
        if weak_pass not in WEAK_PASSES:
            raise ValueError(f"`weak_pass` must be one of {WEAK_PASSES}. "
                             f"Received: weak_pass={weak_pass!r}")
        if flexmatch and not (pool_size and pool_size > 0):
            raise ValueError("FlexMatch keeps a state per unlabelled image: pass "
                             f"`pool_size` > 0. Received: pool_size={pool_size}")
        super().__init__(network, label_smoothing=label_smoothing, name=name,
                         **kwargs)
        classes = int(network.output_shape[-1])
        self.num_classes = classes
        self.threshold = float(threshold)
        self.unlabeled_weight = float(unlabeled_weight)
        self.flexmatch = bool(flexmatch)
        self.threshold_warmup = bool(threshold_warmup)
        self.distribution_alignment = bool(distribution_alignment)
        self.alignment_momentum = float(alignment_momentum)
        self.ema_decay = float(ema_decay)
        if weak_pass == "auto":
            weak_pass = "joint" if network.non_trainable_variables else "separate"
        self.weak_pass = weak_pass
        if target_distribution is None:
            target_distribution = [1.0 / classes] * classes
        target = tf.constant(target_distribution, tf.float32)
        if target.shape != (classes,):
            raise ValueError(
                f"`target_distribution` must have {classes} entries (one per "
                f"class). Received: shape {target.shape.as_list()}")
        self.target_distribution = target / tf.reduce_sum(target)
        if self.flexmatch:
            self.selected_label = _replicated(
                tf.fill([int(pool_size)], -1), "int32", "selected_label")
        if self.distribution_alignment:
            self.model_distribution = _replicated(
                tf.fill([classes], 1.0 / classes), "float32", "model_distribution")
        self.ema_weights = [
            _replicated(tf.identity(v.value), v.dtype, f"ema_{i}")
            for i, v in enumerate(network.trainable_variables)
        ] if self.ema_decay else []

    # --- the loss ---------------------------------------------------------

    def forward(self, x, y, sample_weight=None, training=False):
        images = images_of(x)
        if not (training and isinstance(x, dict) and WEAK in x):
            logits = (self.network(images, training=True) if training
                      else self.inference(images))
            values = {"labeled_loss": self.weighted(
                self.hard_label_loss(y, logits), sample_weight)}
            if training:  # plain images: no unlabelled term
                empty = tf.zeros([0], tf.float32)
                values.update(unlabeled_loss=empty, mask_rate=empty)
            return LossTerms(values, logits)
        n, u = tf.shape(images)[0], tf.shape(x[WEAK])[0]
        if WEAK_LOGITS in x:  # computed before the tape (`before_tape`)
            both = self.network(tf.concat([images, x[STRONG]], 0), training=True)
            logits, weak, strong = both[:n], x[WEAK_LOGITS], both[n:]
        else:
            both = self.network(tf.concat([images, x[WEAK], x[STRONG]], 0),
                                training=True)
            logits, weak, strong = both[:n], both[n:n + u], both[n + u:]
        labeled = self.weighted(self.hard_label_loss(y, logits), sample_weight)
        terms = self.unlabeled_terms(weak, strong, x.get(UNLABELED_INDEX))
        values = {"labeled_loss": labeled, "unlabeled_loss": terms["loss"],
                  "mask_rate": terms["mask"]}
        masks = None
        if UNLABELED_LABELS in x:
            hidden = tf.cast(x[UNLABELED_LABELS], tf.int32)
            correct = tf.cast(tf.equal(terms["pseudo_labels"], hidden), tf.float32)
            values["pseudo_label_accuracy"] = correct
            masks = {"pseudo_label_accuracy":
                     terms["mask"] * tf.cast(hidden >= 0, tf.float32)}
        return LossTerms(values, logits, masks)

    def before_tape(self, x):
        """`weak_pass="separate"`: the weak view's logits, from a
        training-mode pass the gradient tape does not record."""
        if self.weak_pass != "separate" or not (isinstance(x, dict) and WEAK in x):
            return x
        return {**x, WEAK_LOGITS: tf.stop_gradient(
            self.network(x[WEAK], training=True))}

    def unlabeled_terms(self, weak_logits, strong_logits, index=None):
        """Per-image unlabelled loss, mask and pseudo-labels of one batch.

        Updates the FlexMatch and alignment state (once per call, from the
        global batch).

        Returns:
            Dict: `loss` (`mask · CE(pseudo-label, strong)`), `mask` (0/1),
            `pseudo_labels` (int32), `probs` (the pseudo-label distribution).
        """
        probs = tf.stop_gradient(tf.nn.softmax(tf.cast(weak_logits, tf.float32)))
        if self.distribution_alignment:
            probs = self.aligned(probs)
        confidence = tf.reduce_max(probs, axis=-1)
        pseudo = tf.argmax(probs, axis=-1, output_type=tf.int32)
        if self.flexmatch:
            if index is None:
                raise ValueError(
                    "FlexMatch needs each unlabelled image's pool index in "
                    f"x[{UNLABELED_INDEX!r}] (see kzoo.data.fixmatch_batches).")
            self.update_selected(index, pseudo, confidence >= self.threshold)
            thresholds = flexmatch_thresholds(
                flexmatch_beta(self.selected_label, self.num_classes,
                               self.threshold_warmup), self.threshold)
            mask = confidence >= tf.gather(thresholds, pseudo)
        else:
            mask = confidence >= self.threshold
        mask = tf.cast(mask, tf.float32)
        targets = tf.one_hot(pseudo, self.num_classes)
        loss = losses.crossentropy(targets, strong_logits) * mask
        return {"loss": loss, "mask": mask, "pseudo_labels": pseudo, "probs": probs}

    def aligned(self, probs):
        """Update `p̃` with this global batch's mean prediction; `probs`
        aligned to the target distribution."""
        mean = steps.global_sum(tf.reduce_sum(probs, 0)) / tf.maximum(
            steps.global_sum(steps.batch_size(probs)), 1.0)
        m = self.alignment_momentum
        self.model_distribution.assign(m * self.model_distribution + (1 - m) * mean)
        return align_distribution(probs, self.model_distribution.value,
                                  self.target_distribution)

    def update_selected(self, index, pseudo, selected):
        """FlexMatch's state: the images that reached τ keep their class."""
        index, pseudo, selected = (gather_replicas(v) for v in (
            tf.cast(index, tf.int32), pseudo, tf.cast(selected, tf.int32)))
        keep = tf.cast(selected, tf.bool)
        self.selected_label.assign(tf.tensor_scatter_nd_update(
            self.selected_label.value, tf.boolean_mask(index, keep)[:, None],
            tf.boolean_mask(pseudo, keep)))

    def objective_weights(self):
        return {"labeled_loss": 1.0, "unlabeled_loss": self.unlabeled_weight}

    # --- the weight average -----------------------------------------------

    def after_update(self):
        """`ema ← d · ema + (1 − d) · w` for every trainable weight."""
        d = self.ema_decay
        for average, weight in zip(self.ema_weights, self.network.trainable_variables):
            average.assign(d * average.value + (1.0 - d) * weight.value)

    def inference(self, images):
        """The network's inference on `images` with the averaged weights."""
        if not self.ema_weights:
            return self.network(images, training=False)
        logits, _ = self.network.stateless_call(
            [v.value for v in self.ema_weights],
            [v.value for v in self.network.non_trainable_variables],
            images, training=False)
        return logits

    def averaged_network(self):
        """A copy of the network with the averaged weights (the network
        itself without an average): what is validated and exported."""
        if not self.ema_weights:
            return self.network
        copy = keras.models.clone_model(self.network)
        copy.set_weights(self.network.get_weights())
        for target, average in zip(copy.trainable_variables, self.ema_weights):
            target.assign(average.value)
        return copy
