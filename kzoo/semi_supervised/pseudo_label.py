"""`PseudoLabelModel`: labelled + unlabelled batches in one `train_step`."""

import keras
import tensorflow as tf

from kzoo.training import losses, steps
from kzoo.training.wrapper import WrapperModel, images_of

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
    evaluation (`test_step`) is the network's labelled loss and metrics.

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

    # "loss" is computed from the others (see `get_metrics_result`); its
    # tracker is never updated and only shadows Keras's own loss tracker.
    LOSS_KEYS = ("loss", "labeled_loss", "unlabeled_loss", "mask_rate")

    def __init__(self, network, unlabeled_weight=1.0, threshold=0.0, soft=False,
                 label_smoothing=0.0, name="pseudo_label", **kwargs):
        super().__init__(1.0, label_smoothing=label_smoothing, name=name, **kwargs)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"`threshold` must be in [0, 1]. Received: threshold={threshold}"
            )
        if not unlabeled_weight >= 0:
            raise ValueError(
                f"`unlabeled_weight` must be >= 0. Received: {unlabeled_weight}"
            )
        self.network = network
        self.threshold = float(threshold)
        self.soft = bool(soft)
        self.unlabeled_weight = keras.Variable(
            float(unlabeled_weight), trainable=False, name="unlabeled_weight"
        )
        self.built = True

    def call(self, inputs, training=None):
        return self.network(images_of(inputs), training=training)

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

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        images = images_of(x)
        variables = self.network.trainable_variables
        with tf.GradientTape() as tape:
            if isinstance(x, dict) and UNLABELED in x:
                n = tf.shape(images)[0]
                both = self.network(
                    tf.concat([images, x[UNLABELED]], axis=0), training=True
                )
                logits, unlabeled_logits = both[:n], both[n:]
                unlabeled, mask = self.unlabeled_terms(unlabeled_logits, x)
            else:
                logits = self.network(images, training=True)
                unlabeled = mask = tf.zeros([0], tf.float32)
            labeled = self.weighted(self.hard_label_loss(y, logits), sample_weight)
            loss = steps.loss_for_gradients(labeled) + self.alpha() * (
                steps.loss_for_gradients(unlabeled)
            )
            self.apply_loss(tape, loss, variables)
        self.track({"labeled_loss": labeled, "unlabeled_loss": unlabeled,
                    "mask_rate": mask})
        return self.results(images, y, logits, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        images = images_of(x)
        logits = self.network(images, training=False)
        labeled = self.weighted(self.hard_label_loss(y, logits), sample_weight)
        self.track({"labeled_loss": labeled})
        results = self.results(images, y, logits, sample_weight)
        results = {k: v for k, v in results.items()
                   if k not in ("unlabeled_loss", "mask_rate")}
        results["loss"] = results["labeled_loss"]
        return results

    def alpha(self):
        return tf.cast(keras.ops.convert_to_tensor(self.unlabeled_weight), tf.float32)

    def get_metrics_result(self):
        """`loss` = mean labelled loss + α · mean unlabelled loss of the epoch
        so far (α is constant within an epoch)."""
        results = super().get_metrics_result()
        total = results["labeled_loss"] + self.alpha() * results["unlabeled_loss"]
        return dict(loss=total, **{k: v for k, v in results.items() if k != "loss"})

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.network(images_of(x), training=False)


