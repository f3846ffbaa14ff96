"""`kzoo pseudo-label`: its options and description (TensorFlow-free; the run
is `kzoo.run.pseudo_label.pseudo_label`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    SEMI,
    TRAIN_OPTIONS,
    Opt,
    command,
    with_defaults,
)

COMMAND = command(
    "pseudo-label", "labelled + unlabelled images with online pseudo-labels",
    """Train on labelled and unlabelled images with online pseudo-labels (Lee 2013).

  kzoo pseudo-label                           # digits, 5 labels per class
  kzoo pseudo-label --data DIR --labels-per-class 10 --threshold 0.95

The 5 labels per class are a demo budget of the bundled digits; any other
data keeps every label unless --labels-per-class/--label-fraction says.
Every update trains on a batch of labelled images and --ratio times as many
unlabelled ones, whose targets are the network's own current predictions
(--soft: probabilities; else argmax, only those >= --threshold). The
unlabelled loss weight ramps from 0 to --unlabeled-weight between epochs
--t1 and --t2 (the paper's alpha(t)). An epoch is one pass over the
unlabelled pool. Writes train's outputs to --out.""",
    "kzoo.run.pseudo_label:pseudo_label",
    *with_defaults(TRAIN_OPTIONS, augment="default", epochs=60), *SEMI,
    Opt("threshold", 0.0, t.unit_interval,
      "confidence an online pseudo-label needs (Lee: 0)"),
    Opt("soft", False, kind="switch",
      help="probabilities as targets instead of one-hot argmax"),
    Opt("unlabeled_weight", 3.0, t.non_negative_float,
      "final unlabelled loss weight alpha_f (Lee: 3)"),
    Opt("t1", type=t.epoch,
      help="epoch where alpha starts to rise (default: 10% of --epochs)"),
    Opt("t2", type=t.epoch,
      help="epoch where alpha reaches alpha_f (default: 60% of --epochs)"),
)
