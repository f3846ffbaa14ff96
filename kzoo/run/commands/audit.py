"""`kzoo audit`: its options and description (TensorFlow-free; the run
is `kzoo.run.audit.audit`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    MODEL,
    TRAINING,
    Opt,
    command,
)

COMMAND = command(
    "audit", "find likely label errors (confident learning) and near-duplicates",
    """Find the labelled images whose label is likely wrong.

  kzoo audit --data photos/ --out audit.csv
  kzoo audit --data photos/ --technique fixmatch --steps 2000
  kzoo label --data photos/ --review audit.csv

Every image of --data/train/<class>/ gets an out-of-fold prediction: the
images are split into --folds stratified folds, and each fold is predicted
by a run of --technique (kzoo train or kzoo fixmatch, with the model and
options given here) trained on the other folds. Confident learning
(Northcutt et al. 2021, as cleanlab's find_label_issues) flags the images
whose given label the predictions contradict, most likely first; images of
different classes that look alike (cosine similarity of --embedding at
least --duplicate-threshold) follow. Writes --out (path, given, suggested,
score, issue, other) and a contact sheet beside it; kzoo label --review
shows them to keep or relabel. The fold runs go to --runs; the same
command again reuses the finished folds.""",
    "kzoo.run.audit:audit",
    Opt("data", required=True,
      help="a kzoo data folder: DATA/train/<class>/* (and DATA/unlabeled/ "
           "for --technique fixmatch)"),
    Opt("out", "audit.csv", help="CSV of the likely errors (and the sheet .png)"),
    Opt("folds", 5, t.folds, "cross-validation folds (each class needs as many "
                             "images)"),
    Opt("technique", "train", choices=("train", "fixmatch"),
      help="how each fold trains (fixmatch also reads DATA/unlabeled/)"),
    Opt("runs", help="folder of the fold runs (default: saved_models/audit-<data>)"),
    *[o.replace(default=None, help=o.help + " (default: the technique's)")
      if o.name == "model" else o for o in MODEL],
    Opt("epochs", type=t.epochs, help="default: the technique's"),
    Opt("steps", type=t.steps, help="fixmatch's training steps (default: its own)"),
    Opt("batch_size", type=t.batch_size, help="default: the technique's"),
    Opt("lr", type=t.positive_float, help="default: the technique's"),
    Opt("augment", help="default: the technique's"),
    Opt("label_smoothing", type=t.rate, help="default: the technique's"),
    Opt("dropout", type=t.rate, help="default: the technique's"),
    Opt("embedding", "pixels",
      help="what near-duplicates are compared by: pixels, imagenet[:NAME] or "
           "a kzoo run (as kzoo select --embedding)"),
    Opt("duplicate_threshold", 0.98, t.unit_interval,
      "the least cosine similarity of two near-duplicates"),
    Opt("seed", 0, t.seed),
    *[o for o in TRAINING if o.name in ("jit_compile", "steps_per_execution")],
    Opt("fresh", False, kind="switch",
      help="train every fold again (default: reuse the finished ones)"),
    Opt("smoke", False, kind="switch",
      help="wiring check: 2 folds of --smoke runs"),
)
