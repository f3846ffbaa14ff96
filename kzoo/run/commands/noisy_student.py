"""`kzoo noisy-student`: its options and description (TensorFlow-free; the run
is `kzoo.run.noisy_student.noisy_student`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    SEMI,
    TRAIN_OPTIONS,
    Opt,
    command,
    with_defaults,
)

NOISE_POLICY = "crop,randaugment(n=2,m=9)"

COMMAND = command(
    "noisy-student", "Noisy Student self-training, R rounds",
    """Noisy Student self-training: a few labels, many unlabelled images, R rounds.

  kzoo noisy-student                      # digits, 5 labels per class, 3 rounds
  kzoo noisy-student --data DIR --labels-per-class 10 \\
      --models lenet5,lenet5,vgg11_bn --input-size 32 --rounds 2

The loop of Xie et al. (2020): 1. train a teacher on the labelled images
(round 0, with --augment; --teacher-method fixmatch: with FixMatch on the
labelled and unlabelled images, as `kzoo fixmatch` does); 2. pseudo-label the unlabelled pool with the
un-noised teacher (hard or --soft targets, --threshold, --balance); 3. train
a new student from scratch on labelled + pseudo-labelled images with noise:
--noise on its inputs and dropout (--noise-dropout) in the model; 4. the
student becomes the teacher; repeat --rounds times. --models names the
model of each round (round 0 first; the last repeats). --ablate-noise also
runs the rounds without noise. On the bundled digits the labelled set is 5
per class (a demo budget); other data keeps every label unless a budget
flag says. Writes under --out: noisy_student.json, rounds.png,
round<k>/model.keras, and the final student's metrics.json, model.keras and
SavedModel. --epochs is the round-0 teacher's. The validation split only
reports: nothing is selected or stopped on it.""",
    "kzoo.run.noisy_student:noisy_student",
    *with_defaults(TRAIN_OPTIONS, augment="default", epochs=300), *SEMI,
    Opt("rounds", 3, t.rounds),
    Opt("teacher_method", "supervised", choices=("supervised", "fixmatch"),
      help="round 0: supervised on the labels (--epochs), or FixMatch on "
           "labels + pool with `kzoo fixmatch`'s defaults (its own epochs, "
           "ratio, threshold; --augment its weak view); its weight average "
           "teaches round 1"),
    Opt("models", type=t.model_specs,
      help="model of round 0, 1, ... (the last repeats), each NAME or "
           "NAME:WIDTH, e.g. 'lenet5,vgg11_bn:0.25' (default: --model at "
           "--width every round)"),
    Opt("student_epochs", 100, t.epochs,
      "epochs of each student (one epoch = one pass over the pseudo-labelled "
      "images at --ratio x --batch-size)"),
    Opt("threshold", 0.0, t.unit_interval, "teacher confidence a pseudo-label needs"),
    Opt("soft", False, kind="switch",
      help="the teacher's probabilities as targets instead of one-hot argmax"),
    Opt("balance", True, kind="bool",
      help="equalise pseudo-labels per class (trim the most frequent to their "
           "most confident, repeat the rarest)"),
    Opt("noise", NOISE_POLICY, help="students' input noise policy"),
    Opt("noise_dropout", 0.5, t.rate, "students' dropout (model noise)"),
    Opt("ablate_noise", False, kind="bool",
      help="also run the rounds with no noise (no --noise, no dropout) from "
           "the same teacher and report both"),
)
