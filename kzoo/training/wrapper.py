"""`WrapperModel`: what `Distiller` and `LwFModel` share.

A wrapper owns loss trackers (`keras.metrics.Mean`, one per documented loss
key), compiles with an optional student loss instead of Keras's compiled
loss, and reduces per-example losses so that one device and many agree
(`kzoo.training.steps`).
"""

import keras
import tensorflow as tf

from kzoo.training import losses

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


class WrapperModel(keras.Model):
    """Base class; subclasses set `LOSS_KEYS` and write the steps.

    Args:
        temperature: Softmax temperature of the distillation term (> 0).
        label_smoothing: Label smoothing of the default cross-entropy.
        **kwargs: `keras.Model` arguments (`name`, ...).
    """

    LOSS_KEYS = ("loss",)

    def __init__(self, temperature, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0. Received: {temperature}")
        self.temperature = float(temperature)
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
        values = self._student_loss.call(losses.known_classes(y, logits), logits)
        return tf.cast(values, tf.float32) * losses.labelled_mask(y, logits)

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
            per_example: Dict of loss key -> `[batch]` values (keys left
                out are not updated).
            weights: Optional dict of loss key -> `[batch]` 0/1 weights (a
                key's mean over the examples it applies to).
        """
        weights = weights or {}
        for tracker in self.loss_trackers:
            if tracker.name in per_example:
                tracker.update_state(per_example[tracker.name],
                                     sample_weight=weights.get(tracker.name))

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
        y = losses.known_classes(y, logits)
        return self.compute_metrics(x, y, logits, sample_weight=mask)

    @staticmethod
    def weighted(values, sample_weight):
        if sample_weight is None:
            return values
        return values * tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)
