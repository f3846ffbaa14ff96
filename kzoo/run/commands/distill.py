"""`kzoo distill`: its options and description (TensorFlow-free; the run
is `kzoo.run.distill.distill`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    TRAIN_OPTIONS,
    Opt,
    Refuse,
    command,
    with_defaults,
)

COMMAND = command(
    "distill", "distil a teacher into a smaller student; report the gap closed",
    """Distil a teacher into a smaller student and report how much of the gap closes.

  kzoo distill                       # VGG-11-BN teacher -> LeNet-5 (digits)
  kzoo distill --teacher saved_models/big/1 --temperature 4
  kzoo distill --omit-class 3        # Hinton et al.'s omitted-class test

--teacher is a .keras file or kzoo SavedModel, or a registered model name
first trained on the same labelled data (--teacher-width, --teacher-epochs).
With --compare the student is also trained alone and the table gives the
test errors of teacher, student alone and distilled student, and the gap
closure. With --omit-class the class is left out of the distillation set;
its accuracy is reported before and after a bias correction. Outputs under
--out: teacher/, student_alone/, distilled/ (and distilled_bias_corrected/),
plus distill.json. Defaults differ from train where distillation needs it:
no label smoothing, no dropout in the students, a cosine schedule.""",
    "kzoo.run.distill:distill",
    *with_defaults(TRAIN_OPTIONS, label_smoothing=0.0, schedule="cosine", dropout=0.0,
           model=Refuse("the student is --student, the teacher --teacher"),
           width=Refuse("use --student-width or --teacher-width"),
           weights=Refuse("a trained teacher is --teacher (a run folder, "
                          ".keras file or SavedModel)")),
    Opt("teacher", "vgg11_bn",
      help="registered model name (trained here) or .keras/SavedModel path"),
    Opt("teacher_width", 0.25, t.width),
    Opt("teacher_dropout", 0.5, t.rate,
      "dropout of a teacher trained here (--dropout is the students')"),
    Opt("teacher_epochs", type=t.epochs, help="default: --epochs"),
    Opt("student", "lenet5"),
    Opt("student_width", 1.0, t.width),
    Opt("temperature", 4.0, t.positive_float),
    Opt("student_loss_weight", 0.1, t.unit_interval,
      "weight a of the hard-label loss; 1 - a goes to distillation"),
    Opt("compare", True, kind="bool",
      help="also train the student alone and report the gap closure"),
    Opt("precompute", None, kind="bool",
      help="run the teacher once before training (default: on unless "
           "--augment is set)"),
    Opt("unlabeled", False, kind="switch",
      help="also distil on the unlabelled pool: soft targets only"),
    Opt("omit_class", help="class name left out of the distillation set"),
)
