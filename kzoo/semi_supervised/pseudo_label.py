"""`PseudoLabelModel`: labelled + unlabelled batches in one training step."""

import keras
import tensorflow as tf

from kzoo.training import losses
from kzoo.training.wrapper import LossTerms, WrapperModel, images_of

UNLABELED = "unlabeled"
PSEUDO_TARGETS = "pseudo_targets"


class PseudoLabelModel(WrapperModel):
    """Train `network` on labelled images and pseudo-labelled unlabelled ones.

    Each batch is `({"images": x_l, "unlabeled": x_u}, y_l)` (see
    `kzoo.data.pipeline.semi_supervised_batches`): `x_u` holds `ratio` times
    as many images as `x_l`. Both go through the network in one
    training-mode pass, and the loss is

        mean_l CE(y_l, f(x_l)) + α(t) · mean_u [conf(x_u) >= τ] · CE(t_u, f(x_u))

    where the targets `t_u` are

    - online (Lee 2013): the current network's own prediction on `x_u` in
      this very update (one-hot argmax, or its probabilities with
      `soft=True`), without gradient; `τ = threshold`;
    - fixed (Noisy Student): `x["pseudo_targets"]`, given by a teacher
      before training (`kzoo.semi_supervised.select_pseudo_labels`); the
      selection already applied its threshold, so every one counts.

    α(t) is the variable `unlabeled_weight`; `UnlabeledWeightSchedule`
    ramps it per epoch as in the paper. The unlabelled mean runs over all
    `x_u`, those below the threshold counting 0 (as FixMatch does), so a
    stricter threshold also weakens the term. Means are over the global
    batch (correct under `tf.distribute`, see `kzoo.training.steps`).

    Batches of plain images (no dict) train on the labelled loss alone, and
    evaluation is the network's labelled loss and metrics.

    Logged: `loss`, `labeled_loss`, `unlabeled_loss` (mean over all
    unlabelled images), `mask_rate` (fraction of unlabelled images above
    the threshold) and the compiled metrics on the labelled images.

    Args:
        network: The classifier to train; it returns logits.
        unlabeled_weight: Initial α (the schedule callback may change it).
        threshold: Confidence τ in [0, 1] for online targets (Lee: 0).
        soft: Online targets are probabilities instead of one-hot argmax.
        label_smoothing: Label smoothing of the labelled cross-entropy.
        name: Model name.

    Example:
        >>> model = PseudoLabelModel(kzoo.create_model("lenet5", num_classes=10))
        >>> model.compile(keras.optimizers.Adam(1e-3), metrics=["accuracy"])
        >>> model.fit(semi_supervised_batches(...), epochs=100,
        ...           callbacks=[UnlabeledWeightSchedule(3.0, 10, 60)])
        >>> export_saved_model(model.network, "saved_models/pl", class_names)

    Reference:
        Lee. "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning
        Method for Deep Neural Networks", ICML 2013 Workshop on Challenges in
        Representation Learning.
    """

    LOSS_KEYS = ("labeled_loss", "unlabeled_loss", "mask_rate")

    def __init__(self, network, unlabeled_weight=1.0, threshold=0.0, soft=False,
                 label_smoothing=0.0, name="pseudo_label", **kwargs):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"`threshold` must be in [0, 1]. Received: threshold={threshold}"
            )
        if not unlabeled_weight >= 0:
            raise ValueError(
                f"`unlabeled_weight` must be >= 0. Received: {unlabeled_weight}"
            )
        super().__init__(network, label_smoothing=label_smoothing, name=name,
                         **kwargs)
        self.threshold = float(threshold)
        self.soft = bool(soft)
        self.unlabeled_weight = keras.Variable(
            float(unlabeled_weight), trainable=False, name="unlabeled_weight"
        )

    def forward(self, x, y, sample_weight=None, training=False):
        """Training: labelled and unlabelled images in one pass; evaluation:
        the labelled loss alone."""
        images = images_of(x)
        values = {}
        if training and isinstance(x, dict) and UNLABELED in x:
            n = tf.shape(images)[0]
            both = self.network(
                tf.concat([images, x[UNLABELED]], axis=0), training=True
            )
            logits, unlabeled_logits = both[:n], both[n:]
            unlabeled, mask = self.unlabeled_terms(unlabeled_logits, x)
            values = {"unlabeled_loss": unlabeled, "mask_rate": mask}
        else:
            logits = self.network(images, training=training)
            if training:  # plain images: no unlabelled term
                empty = tf.zeros([0], tf.float32)
                values = {"unlabeled_loss": empty, "mask_rate": empty}
        labeled = self.weighted(self.hard_label_loss(y, logits), sample_weight)
        return LossTerms({"labeled_loss": labeled, **values}, logits)

    def objective_weights(self):
        """`labeled_loss + α · unlabeled_loss` (each a global mean)."""
        return {"labeled_loss": 1.0, "unlabeled_loss": self.alpha()}

    def unlabeled_terms(self, logits, x):
        """Per-example unlabelled cross-entropy and 0/1 mask."""
        if PSEUDO_TARGETS in x:
            targets = tf.cast(x[PSEUDO_TARGETS], tf.float32)
            mask = tf.ones(tf.shape(logits)[:1], tf.float32)
        else:
            probs = tf.stop_gradient(tf.nn.softmax(tf.cast(logits, tf.float32)))
            mask = tf.cast(tf.reduce_max(probs, -1) >= self.threshold, tf.float32)
            targets = probs if self.soft else tf.one_hot(
                tf.argmax(probs, -1), tf.shape(probs)[-1]
            )
        return losses.crossentropy(targets, logits) * mask, mask

    def alpha(self):
        """The current unlabelled-loss weight α, as a float32 tensor."""
        return tf.cast(keras.ops.convert_to_tensor(self.unlabeled_weight), tf.float32)
