"""`FixMatchModel`: consistency training on weak and strong views (Sohn et
al. 2020), with a confidence strategy that decides which pseudo-labels
train (FixMatch's fixed τ, FlexMatch, FreeMatch, SoftMatch:
`kzoo.semi_supervised.confidence`), ReMixMatch's distribution alignment
(Berthelot et al. 2020) as an option, and an exponential moving average of
the weights for evaluation and export.
"""

import keras
import tensorflow as tf

from kzoo.semi_supervised.confidence import ConfidenceStrategy, FixedThreshold
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


def align_distribution(probs, model_distribution, target_distribution):
    """ReMixMatch's distribution alignment: `probs · p(y) / p̃(y)`,
    renormalised (`p̃`: the running mean of the model's unlabelled
    predictions, `p(y)`: the labelled class distribution)."""
    aligned = probs * (target_distribution + 1e-6) / (model_distribution + 1e-6)
    return aligned / tf.reduce_sum(aligned, axis=-1, keepdims=True)


class FixMatchModel(WrapperModel):
    """Train `network` with FixMatch on labelled and unlabelled batches.

    Each batch is `({"images": x_l, "weak": w, "strong": s, ...}, y_l)`
    (`kzoo.data.fixmatch_batches`): `w` and `s` are a weak and a strong
    augmentation of the same `μ · B` unlabelled images. The loss is

        mean_l CE(y_l, f(x_l)) + λ_u · mean_u w_u · CE(ŷ_u, f(s_u)) [+ λ_c · L_c]

    where `q_u = softmax(f(w_u))` without gradient, and the confidence
    strategy (`confidence`) gives each unlabelled image its weight `w_u`
    and pseudo-label `ŷ_u` from `q_u` (FixMatch: `w_u = [max q_u >= τ]`,
    `ŷ_u = argmax q_u`) and, if it has one, a loss term `L_c` of its own
    (FreeMatch's fairness, logged as `confidence_loss`). The unlabelled
    mean runs over all `μ · B` images, those below the threshold counting
    0. In the paper the three go through the network in
    one training-mode pass, which matters where a training-mode pass
    updates state (batch-norm statistics over all three). `weak_pass`:
    `"joint"` is that; `"separate"` runs the weak view in its own
    training-mode pass before the gradient tape (no gradient recorded or
    computed for it: on LeNet-5 at μ = 7 a step costs less, see
    benchmarks/bench_fixmatch.py); `"auto"` is `"separate"` for a network
    without non-trainable state (no batch normalization), else `"joint"`.
    Options of the same model:

    - `confidence`: a `ConfidenceStrategy` (`FixedThreshold(0.95)` by
      default; `FlexMatch`, `FreeMatch`, `SoftMatch`). Its state is its
      weights, saved with the model. `FlexMatch` needs
      `x["unlabeled_index"]` (each image's index in the pool).
    - `distribution_alignment=True`: `q_u` is aligned to the labelled class
      distribution before thresholding (`align_distribution`), `p̃` a
      moving average (`alignment_momentum`) of the model's predictions.

    `ema_decay > 0` keeps an exponential moving average of the trainable
    weights, updated after every step. Evaluation (`test_step`, `predict`,
    `call` outside training) uses it, and `averaged_network()` is the
    network with it, for export. The non-trainable weights (batch-norm
    statistics) are the network's own.

    Logged: `loss`, `labeled_loss`, `unlabeled_loss` (over all unlabelled
    images), `mask_rate` (the mean weight: the share of images that
    trained, for a 0/1 strategy), `confidence_loss` (a strategy's own
    term, where it has one), and with `x["unlabeled_labels"]` (hidden labels,
    -1 where unknown) `pseudo_label_accuracy`: the accuracy of the
    pseudo-labels that trained (weighted by their weight: SoftMatch's
    are soft) among those whose label is known; NaN (n/a, never 0) while none of them did (see `SelectedMean`).
    Without `x["unlabeled_labels"]` it is not logged. Every mean and state
    update is over the global batch, so 2 replicas train as one device.

    Args:
        network: The classifier to train; it returns logits.
        confidence: The `ConfidenceStrategy` (default `FixedThreshold()`,
            τ = 0.95).
        unlabeled_weight: λ_u (1 in the paper).
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

    LOSS_KEYS = ("labeled_loss", "unlabeled_loss", "confidence_loss",
                 "mask_rate", "pseudo_label_accuracy")
    SELECTED_KEYS = ("pseudo_label_accuracy",)

    def __init__(self, network, confidence=None, unlabeled_weight=1.0,
                 distribution_alignment=False, target_distribution=None,
                 alignment_momentum=0.999, ema_decay=0.999, label_smoothing=0.0,
                 weak_pass="auto", name="fixmatch", **kwargs):
        confidence = FixedThreshold() if confidence is None else confidence
        if not isinstance(confidence, ConfidenceStrategy):
            raise ValueError(
                "`confidence` must be a ConfidenceStrategy (FixedThreshold, "
                "FlexMatch, FreeMatch, SoftMatch, ...). Received: "
                f"confidence={confidence!r}")
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
        super().__init__(network, label_smoothing=label_smoothing, name=name,
                         **kwargs)
        classes = int(network.output_shape[-1])
        self.num_classes = classes
        self.unlabeled_weight = float(unlabeled_weight)
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
        if not confidence.built:
            confidence.build((None, classes))
        self.confidence = confidence
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
                values.update(unlabeled_loss=empty, mask_rate=empty,
                              confidence_loss=empty)
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
        extra = self.confidence.extra_loss(strong, terms["mask"])
        if extra is not None:  # one value per unlabelled image: its global mean
            values["confidence_loss"] = tf.fill(tf.shape(terms["mask"]), extra)
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
        """Per-image unlabelled loss, weight and pseudo-labels of one batch.

        Updates the confidence strategy's and the alignment's state (once
        per call, from the global batch).

        Returns:
            Dict: `loss` (`weight · CE(pseudo-label, strong)`), `mask` (the
            weight, in [0, 1]), `pseudo_labels` (int32), `probs` (the
            distribution the strategy weighed).
        """
        probs = tf.stop_gradient(tf.nn.softmax(tf.cast(weak_logits, tf.float32)))
        if self.distribution_alignment:
            probs = self.aligned(probs)
        if self.confidence.needs_index and index is None:
            raise ValueError(
                f"{type(self.confidence).__name__} needs each unlabelled "
                f"image's pool index in x[{UNLABELED_INDEX!r}] (see "
                "kzoo.data.fixmatch_batches).")
        mask, pseudo = self.confidence.weigh(probs, index)
        mask = tf.stop_gradient(tf.cast(mask, tf.float32))
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

    def objective_weights(self):
        weights = {"labeled_loss": 1.0, "unlabeled_loss": self.unlabeled_weight}
        if self.confidence.extra_loss_weight:
            weights["confidence_loss"] = self.confidence.extra_loss_weight
        return weights

    # --- the weight average -----------------------------------------------
    # Written here rather than with Keras's `use_ema=True` optimizer and its
    # `SwapEMAWeights` callback: Keras keeps the average in the optimizer
    # and swaps it into the network's variables, in place, around every
    # evaluation, so validation, `predict` and export would each depend on
    # that callback being present and ordered right among kzoo's backup
    # and logging callbacks, and a `WrapperModel` evaluated outside `fit`
    # (`evaluate`, the audit's folds) would silently use the trained
    # weights; Keras's average also starts at the first step's weights,
    # kzoo's at the initial ones. Here the average is a set of variables
    # of its own (saved in the backups, exact on many replicas like the
    # rest of the state): evaluation reads it with `stateless_call` and
    # never touches the trained weights.

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
