"""`Distiller`: knowledge distillation as a `keras.Model` (Hinton et al. 2015)."""

import tensorflow as tf

from kzoo.training import losses
from kzoo.training.sources import load_model_source
from kzoo.training.wrapper import LossTerms, WrapperModel, images_of, record_outputs

TEACHER_LOGITS = "teacher_logits"


class Distiller(WrapperModel):
    """Train `student` on hard labels and on the frozen `teacher`'s soft targets.

    Per example: `a · CE(label, student) + (1 − a) · T² · KL(softmax(teacher /
    T) ‖ softmax(student / T))` with `a = student_loss_weight`. An unlabelled
    example (a batch without labels, or an integer label < 0 as
    `kzoo.data` marks the unlabelled pool) contributes `T² · KL` alone,
    weight 1, so label-free distillation keeps the T² scaling.

    Logged: `loss`, `student_loss` (mean over labelled examples),
    `distillation_loss` (mean T²·KL) and the compiled metrics of the student.
    Losses and gradients are the same on one device and under
    `tf.distribute` (see `kzoo.training.steps`).

    Inputs are images, or `{"images": ..., "teacher_logits": ...}` from
    `precompute_teacher_logits`, which skips the teacher.

    The student is the wrapper's `network` (what is trained, served and
    exported, as for every `WrapperModel`); `student` is the same model
    under the name `keras.distillation.Distiller` gives it.

    Args:
        teacher: A `keras.Model` returning logits, or a path to a `.keras`
            file or an exported SavedModel (see `load_model_source`). Frozen.
        student: The `keras.Model` to train; it returns logits.
        temperature: Softmax temperature T of both models' soft targets.
        student_loss_weight: Weight `a` in [0, 1] of the hard-label loss.
        label_smoothing: Label smoothing of the hard-label cross-entropy.
        name: Model name.

    Raises:
        ValueError: If `temperature <= 0`, `student_loss_weight` is not in
            [0, 1] or the models predict different numbers of classes.

    Example:
        >>> distiller = Distiller(teacher=teacher, student=student,
        ...                       temperature=4.0, student_loss_weight=0.1)
        >>> distiller.compile(keras.optimizers.Adam(1e-3), metrics=["accuracy"])
        >>> distiller.fit(train_ds, epochs=10)
        >>> export_saved_model(distiller.network, "saved_models/s", class_names)

    Reference:
        Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural
        Network", 2015.
    """

    LOSS_KEYS = ("loss", "student_loss", "distillation_loss")

    def __init__(
        self,
        teacher,
        student,
        temperature=3.0,
        student_loss_weight=0.5,
        label_smoothing=0.0,
        name="distiller",
        **kwargs,
    ):
        temperature = losses.check_temperature(temperature)
        if not 0.0 <= student_loss_weight <= 1.0:
            raise ValueError(
                "`student_loss_weight` must be in [0, 1]. "
                f"Received: student_loss_weight={student_loss_weight}"
            )
        teacher = load_model_source(teacher)
        if teacher.output_shape[-1] != student.output_shape[-1]:
            raise ValueError(
                "Teacher and student must predict the same classes. Received: "
                f"teacher outputs {teacher.output_shape[-1]}, student outputs "
                f"{student.output_shape[-1]}"
            )
        super().__init__(
            student, label_smoothing=label_smoothing, name=name, **kwargs
        )
        teacher.trainable = False
        self.teacher = teacher
        self.temperature = temperature
        self.student_loss_weight = float(student_loss_weight)

    @property
    def student(self):
        """The network being trained: `network`, under Keras's name."""
        return self.network

    def forward(self, x, y, sample_weight=None, training=False):
        teacher_logits = tf.stop_gradient(self.teacher_logits(x))
        logits = self.network(images_of(x), training=training)
        terms, labelled = self.loss_terms(y, logits, teacher_logits, sample_weight)
        return LossTerms(terms, logits, {"student_loss": labelled})

    def loss_terms(self, y, student_logits, teacher_logits, sample_weight=None):
        """Per-example `loss`, `student_loss`, `distillation_loss` and the
        labelled mask (no reduction)."""
        a = self.student_loss_weight
        distill = losses.distillation_loss(
            teacher_logits, student_logits, self.temperature
        )
        labelled = losses.labelled_mask(y, student_logits)
        if y is None:
            hard = tf.zeros_like(distill)
        else:
            hard = self.hard_label_loss(y, student_logits)
        total = labelled * (a * hard + (1.0 - a) * distill) + (1.0 - labelled) * distill
        terms = {"loss": total, "student_loss": hard, "distillation_loss": distill}
        terms = {k: self.weighted(v, sample_weight) for k, v in terms.items()}
        return terms, labelled

    def teacher_logits(self, x):
        """Precomputed logits when the inputs carry them, else the teacher's."""
        if isinstance(x, dict) and TEACHER_LOGITS in x:
            return x[TEACHER_LOGITS]
        return self.teacher(images_of(x), training=False)


def precompute_teacher_logits(teacher, dataset, batch_size=256):
    """Run the teacher once; a dataset carrying its logits with each image.

    Args:
        teacher: A `keras.Model` (or a path, see `load_model_source`).
        dataset: Unbatched `(image, label)` dataset in a fixed order (see
            `kzoo.training.wrapper.record_outputs`).
        batch_size: Batch size of the teacher's pass.

    Returns:
        An unbatched, cached `({"images": image, "teacher_logits": logits},
        label)` dataset for `kzoo.data.batched` and `Distiller.fit`.
    """
    teacher = load_model_source(teacher)
    return record_outputs(
        lambda images: teacher.predict(images, verbose=0),
        dataset,
        TEACHER_LOGITS,
        batch_size,
    )
