"""`WrapperModel`: what `Distiller` and `LwFModel` share.

A wrapper owns loss trackers (`keras.metrics.Mean`, one per documented loss
key), compiles with an optional student loss instead of Keras's compiled
loss, and reduces per-example losses so that one device and many agree
(`kzoo.training.steps`).
"""

import keras
import tensorflow as tf

from kzoo.training import losses


class WrapperModel(keras.Model):
    """Base class; subclasses set `LOSS_KEYS` and write the steps.

    Args:
        label_smoothing: Label smoothing of the default cross-entropy.
        **kwargs: `keras.Model` arguments (`name`, ...).
    """

    LOSS_KEYS = ("loss",)

    def __init__(self, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                "`label_smoothing` must be in [0, 1). "
                f"Received: label_smoothing={label_smoothing}"
            )
        self.label_smoothing = label_smoothing
        self.loss_trackers = [keras.metrics.Mean(name=k) for k in self.LOSS_KEYS]
        self._student_loss = None

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Configure training.

        Args:
            optimizer: A Keras optimizer (or its name).
            loss: The hard-label loss: `None` for cross-entropy from logits
                (integer or one-hot labels, `label_smoothing` applied), or a
                `keras.losses.Loss` whose `call` gives per-example values.
            metrics: Metrics of the (student / new-task) predictions.
            **kwargs: Other `keras.Model.compile` arguments
                (`steps_per_execution`, `jit_compile`, ...).
        """
        if loss is not None and not isinstance(loss, keras.losses.Loss):
            raise ValueError(
                "`loss` must be None (cross-entropy from logits) or a "
                "`keras.losses.Loss` instance, e.g. "
                "keras.losses.SparseCategoricalCrossentropy(from_logits=True). "
                f"Received: loss={loss!r}"
            )
        self._student_loss = loss
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)

    @property
    def metrics(self):
        own = {m.name for m in self.loss_trackers}
        return self.loss_trackers + [m for m in super().metrics if m.name not in own]

    def get_metrics_result(self):
        """Results of the metrics that have seen data (compiled metrics stay
        unbuilt on label-free data)."""
        results = {}
        for metric in self.metrics:
            if not getattr(metric, "built", True):
                continue
            value = metric.result()
            results.update(value if isinstance(value, dict) else {metric.name: value})
        return results

    def hard_label_loss(self, y, logits):
        """Per-example hard-label loss; 0 for unlabelled (index < 0) examples."""
        if self._student_loss is None:
            return losses.crossentropy(y, logits, self.label_smoothing)
        mask = losses.labelled_mask(y, logits)
        if len(y.shape) == len(logits.shape) - 1:
            y = tf.maximum(y, tf.zeros_like(y))
        values = self._student_loss.call(y, logits)
        return tf.cast(values, tf.float32) * mask

    def apply_loss(self, tape, loss, variables):
        """Scale (mixed precision), differentiate and apply; `tape` must have
        recorded the scaled loss, so call this inside its context."""
        scaled = self.optimizer.scale_loss(loss)
        with tape.stop_recording():
            gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)

    def track(self, per_example, weights=None):
        """Update the loss trackers with this replica's per-example values.

        Args:
            per_example: Dict of loss key -> `[batch]` values.
            weights: Optional dict of loss key -> `[batch]` 0/1 weights (a
                key's mean over the examples it applies to).
        """
        weights = weights or {}
        for tracker in self.loss_trackers:
            values = per_example[tracker.name]
            tracker.update_state(values, sample_weight=weights.get(tracker.name))

    def results(self, x, y, logits, sample_weight):
        """Update the compiled metrics (labelled examples only); all results.

        Without labels the compiled metrics have nothing to measure: only the
        losses are returned.
        """
        if y is None:
            return self.get_metrics_result()
        mask = losses.labelled_mask(y, logits)
        if sample_weight is not None:
            mask = mask * tf.cast(sample_weight, tf.float32)
        if len(y.shape) == len(logits.shape) - 1:
            y = tf.maximum(y, tf.zeros_like(y))
        return self.compute_metrics(x, y, logits, sample_weight=mask)

    @staticmethod
    def weighted(values, sample_weight):
        if sample_weight is None:
            return values
        return values * tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)
