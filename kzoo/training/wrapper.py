"""`WrapperModel`: the one train, test and predict step of kzoo's wrappers.

A training wrapper serves one network (`network`) and trains it with a loss
of its own. The base class owns the steps, written the way Keras's
TensorFlow trainer writes them (`keras/src/backend/tensorflow/trainer.py`):
`keras.utils.unpack_x_y_sample_weight`, a `tf.GradientTape` over the served
network's trainable variables only, `optimizer.scale_loss` (mixed
precision), `optimizer.apply`, loss trackers as `keras.metrics.Mean` and the
compiled metrics, never `compiled_loss` / `compiled_metrics`. A subclass
says only what is its own (as Keras's `compute_loss` and timm's
`TrainingTask.forward` do): its forward pass and per-example loss terms in
`forward`, and, when its loss is not the term `"loss"`, `objective_weights`.
Losses are reduced so that one device and many agree
(`kzoo.training.steps`).
"""

from typing import NamedTuple, Optional

import keras
import tensorflow as tf

from kzoo.training import losses, steps

IMAGES = "images"


def images_of(x):
    """The images of a batch: `x` itself, or `x["images"]` when the data
    carries recorded logits beside them (see `record_outputs`)."""
    return x[IMAGES] if isinstance(x, dict) else x


def record_outputs(predict, dataset, key, batch_size=256):
    """Run `predict` once over a dataset's images; keep its outputs with them.

    Args:
        predict: Batched image dataset -> `[N, ...]` array (e.g. a teacher's
            `predict`).
        dataset: Unbatched `(image, label)` dataset that yields the same
            examples in the same order every time (no shuffle, no random
            augmentation before this point).
        key: Name of the recorded outputs in the inputs dict.
        batch_size: Batch size of the pass.

    Returns:
        A cached, unbatched `({"images": image, key: outputs}, label)`
        dataset for `kzoo.data.batched` and `fit`.
    """
    outputs = predict(dataset.map(lambda x, y: x).batch(batch_size))
    paired = tf.data.Dataset.zip(dataset, tf.data.Dataset.from_tensor_slices(outputs))
    return paired.map(lambda xy, out: ({IMAGES: xy[0], key: out}, xy[1])).cache()


class LossTerms(NamedTuple):
    """What a wrapper's `forward` gives the shared steps.

    Attributes:
        values: Dict of logged key -> this replica's per-example float32
            values (`[n]`, each key over its own examples), sample weights
            already applied. Each updates the tracker of the same name.
        predictions: What the compiled metrics measure against the labels
            (the served task's logits of the labelled examples).
        masks: Optional dict of key -> `[n]` 0/1 weights: the examples a
            key's logged mean runs over (e.g. the labelled ones).
    """

    values: dict
    predictions: object
    masks: Optional[dict] = None


class SelectedMean(keras.metrics.Mean):
    """The mean of a logged term over the examples its mask selects; NaN
    (not applicable) while it has seen examples but selected none, e.g. the
    accuracy of the pseudo-labels that passed a threshold when none did.

    `Mean` reads 0.0 then, indistinguishable from a measured 0. The number
    of examples seen (`seen`) tells a term that was logged with nothing
    selected from one that was not logged at all (`WrapperModel` leaves
    the latter out of the logs).
    """

    def __init__(self, name="selected_mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.seen = self.add_variable(shape=(), initializer="zeros",
                                      dtype=self.dtype, name="seen")

    def update_state(self, values, sample_weight=None):
        super().update_state(values, sample_weight)
        self.seen.assign_add(tf.cast(tf.size(values), self.dtype))

    def reset_state(self):
        super().reset_state()
        self.seen.assign(0)

    def result(self):
        return tf.where(self.count > 0, super().result(),
                        tf.constant(float("nan"), self.dtype))


class WrapperModel(keras.Model):
    """Base class: owns the steps; subclasses write `forward`.

    `call` and `predict_step` are the served `network`'s forward pass (on
    images, or on the `"images"` of an inputs dict; `inference` outside
    training). `train_step` runs
    `forward(training=True)` under a tape over `network`'s trainable
    variables and minimises `Σ weight · (global mean of the term)` over
    `objective_weights()`; `test_step` runs `forward(training=False)`. Both
    update the loss trackers (`LOSS_KEYS`) and the compiled metrics (on
    labelled examples) and log the keys `forward` returned plus `loss`, the
    objective's value.

    Args:
        network: The `keras.Model` that is trained and served (exported).
        label_smoothing: Label smoothing of the default cross-entropy.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Raises:
        ValueError: If `network` is not a `keras.Model` or
            `label_smoothing` is not in [0, 1).

    Example:
        >>> class Plain(WrapperModel):
        ...     def forward(self, x, y, sample_weight=None, training=False):
        ...         logits = self.network(images_of(x), training=training)
        ...         loss = self.weighted(self.hard_label_loss(y, logits),
        ...                              sample_weight)
        ...         return LossTerms({"loss": loss}, logits)
    """

    LOSS_KEYS = ("loss",)
    # Logged keys whose mask may select nothing in a check: n/a, not 0 (see
    # `SelectedMean`).
    SELECTED_KEYS = ()
    METRICS_OUTPUT = None  # for a network with a dict of outputs: the measured one

    def __init__(self, network, label_smoothing=0.0, **kwargs):
        if not isinstance(network, keras.Model):
            raise ValueError(
                f"`network` must be a keras.Model. Received: network={network!r}"
            )
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                "`label_smoothing` must be in [0, 1). "
                f"Received: label_smoothing={label_smoothing}"
            )
        # No layers of its own: the network casts its inputs as it was built to.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.network = network
        self.label_smoothing = label_smoothing
        self.loss_trackers = [
            (SelectedMean if k in self.SELECTED_KEYS else keras.metrics.Mean)(name=k)
            for k in self.LOSS_KEYS]
        self._hard_loss = None
        self.built = True  # the network is built; nothing of its own

    # --- what a subclass writes ------------------------------------------

    def forward(self, x, y, sample_weight=None, training=False):
        """The forward pass and per-example loss terms of one batch.

        Args:
            x: The batch's inputs (images, or a dict with `"images"`).
            y: Its labels, or None.
            sample_weight: Its sample weights, or None.
            training: Whether this is a training step.

        Returns:
            A `LossTerms`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define `forward` (see WrapperModel)."
        )

    def objective_weights(self):
        """Weight of each term's global mean in the training loss: `{key:
        weight}` (a float or a scalar variable); default: the term `"loss"`."""
        return {"loss": 1.0}

    def before_tape(self, x):
        """The training inputs, with what needs no gradient computed
        before the tape records (FixMatch's weak-view pseudo-labels);
        by default `x` itself."""
        return x

    def after_update(self):
        """What happens after every optimizer update, inside the training
        step (e.g. FixMatch's weight average); default: nothing."""

    def inference(self, images):
        """The served prediction on `images` outside training (`call`,
        `predict`); default: the network in inference mode."""
        return self.network(images, training=False)

    # --- helpers for `forward` -------------------------------------------

    def hard_label_loss(self, y, logits):
        """Per-example hard-label loss; 0 for unlabelled (index < 0) examples."""
        if self._hard_loss is None:
            return losses.crossentropy(y, logits, self.label_smoothing)
        values = self._hard_loss.call(losses.known_classes(y, logits), logits)
        return tf.cast(values, tf.float32) * losses.labelled_mask(y, logits)

    @staticmethod
    def weighted(values, sample_weight):
        """`values` times the sample weights (unchanged when there are none)."""
        if sample_weight is None:
            return values
        return values * tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)

    # --- Keras API --------------------------------------------------------

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Configure training.

        Args:
            optimizer: A Keras optimizer (or its name).
            loss: The hard-label loss: `None` for cross-entropy from logits
                (integer or one-hot labels, `label_smoothing` applied), or a
                `keras.losses.Loss` whose `call` gives per-example values.
            metrics: Metrics of the served network's predictions.
            **kwargs: Other `keras.Model.compile` arguments
                (`steps_per_execution`, `jit_compile`, ...).

        Raises:
            ValueError: If `loss` is neither None nor a `keras.losses.Loss`.
        """
        if loss is not None and not isinstance(loss, keras.losses.Loss):
            raise ValueError(
                "`loss` must be None (cross-entropy from logits) or a "
                "`keras.losses.Loss` instance, e.g. "
                "keras.losses.SparseCategoricalCrossentropy(from_logits=True). "
                f"Received: loss={loss!r}"
            )
        self._hard_loss = loss
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)

    def call(self, inputs, training=None):
        if training:
            return self.network(images_of(inputs), training=True)
        return self.inference(images_of(inputs))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.network.trainable_variables
        x = self.before_tape(x)
        # Only the served network's variables: a teacher's pass is not recorded.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([v.value for v in variables])  # the tf.Variables
            terms = self.forward(x, y, sample_weight, training=True)
            loss = steps.objective(terms.values, self.objective_weights())
            scaled = self.optimizer.scale_loss(loss)
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.after_update()
        return self._update_metrics(x, y, sample_weight, terms)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        terms = self.forward(x, y, sample_weight, training=False)
        return self._update_metrics(x, y, sample_weight, terms)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    @property
    def metrics(self):
        # Keras's own loss tracker ("loss") is never updated: the logged loss
        # is the objective of the trackers (see `get_metrics_result`).
        own = {m.name for m in self.loss_trackers} | {"loss"}
        return self.loss_trackers + [m for m in super().metrics if m.name not in own]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Keras builds the compiled metrics on the network's whole output.
        if isinstance(y_pred, dict) and self.METRICS_OUTPUT is not None:
            y_pred = y_pred[self.METRICS_OUTPUT]
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_metrics_result(self):
        """Results of the metrics that have seen data (compiled metrics stay
        unbuilt on label-free data); `loss` is the objective of the epoch
        so far (its weights constant within an epoch).

        Eagerly (where Keras reads the results of an epoch or an
        evaluation), the loss trackers that saw no example are left out, so
        that the keys are those the steps logged: Keras then reports these
        results, reduced over all replicas, instead of the last step's logs
        averaged per replica (inexact when the last batch splits unevenly).
        """
        results = self._metric_results()
        if tf.executing_eagerly():
            idle = {m.name for m in self.loss_trackers if float(
                keras.ops.convert_to_numpy(getattr(m, "seen", m.count))) == 0}
            results = {k: v for k, v in results.items() if k not in idle}
        return self._with_loss(results)

    # --- internals --------------------------------------------------------

    def _metric_results(self):
        results = {}
        for metric in self.metrics:
            if not getattr(metric, "built", True):
                continue
            value = metric.result()
            results.update(value if isinstance(value, dict) else {metric.name: value})
        return results

    def _with_loss(self, results):
        """`results` with `loss` = Σ weight · mean over the objective's terms
        that are in `results`, first."""
        total = None
        for key, weight in self.objective_weights().items():
            if key in results:
                term = tf.cast(weight, tf.float32) * results[key]
                total = term if total is None else total + term
        others = {k: v for k, v in results.items() if k != "loss"}
        return others if total is None else {"loss": total, **others}

    def _update_metrics(self, x, y, sample_weight, terms):
        """Update the trackers and the compiled metrics (labelled examples
        only); the results of this step's keys, the metrics and `loss`."""
        masks = terms.masks or {}
        for tracker in self.loss_trackers:
            if tracker.name in terms.values:
                tracker.update_state(terms.values[tracker.name],
                                     sample_weight=masks.get(tracker.name))
        if y is not None:  # without labels the compiled metrics measure nothing
            logits = terms.predictions
            mask = losses.labelled_mask(y, logits)
            if sample_weight is not None:
                mask = mask * tf.cast(sample_weight, tf.float32)
            y = losses.known_classes(y, logits)
            self.compute_metrics(x, y, logits, sample_weight=mask)
        results = self._metric_results()
        trackers = {m.name for m in self.loss_trackers}
        results = {k: v for k, v in results.items()
                   if k not in trackers or k in terms.values}
        return self._with_loss(results)
