"""Learning from unlabelled images: pseudo-labels, Noisy Student, FixMatch.

- `PseudoLabelModel` (Lee 2013): labelled and unlabelled batches in one
  `train_step`, online or fixed pseudo-targets, `UnlabeledWeightSchedule`
  for the paper's α(t) ramp (`ramp_weight`).
- `select_pseudo_labels`: threshold, soft/hard targets and class balancing
  of a teacher's predictions (Noisy Student, Xie et al. 2020);
  `predict_probabilities` streams a pool through the un-noised teacher.
- `FixMatchModel` (Sohn et al. 2020): weak-view pseudo-labels train the
  strong view, weighted by a confidence strategy (`FixedThreshold`,
  `FlexMatch`, `FreeMatch`, `SoftMatch`; `CONFIDENCE` by name);
  distribution alignment as an option; a weight average (EMA) for
  evaluation and export.
- `kzoo.run.pseudo_label`, `kzoo.run.fixmatch`, `kzoo.run.noisy_student` and
  `kzoo.run.label_budget` (`kzoo pseudo-label`, ...) run them end to end.
"""

from kzoo.semi_supervised.confidence import (
    CONFIDENCE,
    ConfidenceStrategy,
    FixedThreshold,
    FlexMatch,
    FreeMatch,
    SoftMatch,
    flexmatch_beta,
    flexmatch_thresholds,
    get_confidence,
)
from kzoo.semi_supervised.fixmatch import (
    STRONG,
    UNLABELED_INDEX,
    UNLABELED_LABELS,
    WEAK,
    FixMatchModel,
    align_distribution,
)
from kzoo.semi_supervised.noisy_student import (
    MODEL_NOISE,
    model_noise,
    predict_probabilities,
)
from kzoo.semi_supervised.pseudo_label import (
    PSEUDO_TARGETS,
    UNLABELED,
    PseudoLabelModel,
)
from kzoo.semi_supervised.schedule import UnlabeledWeightSchedule, ramp_weight
from kzoo.semi_supervised.selection import PseudoLabels, select_pseudo_labels

__all__ = [
    "CONFIDENCE",
    "ConfidenceStrategy",
    "FixMatchModel",
    "FixedThreshold",
    "FlexMatch",
    "FreeMatch",
    "SoftMatch",
    "MODEL_NOISE",
    "PSEUDO_TARGETS",
    "PseudoLabelModel",
    "PseudoLabels",
    "STRONG",
    "UNLABELED",
    "UNLABELED_INDEX",
    "UNLABELED_LABELS",
    "UnlabeledWeightSchedule",
    "WEAK",
    "align_distribution",
    "flexmatch_beta",
    "flexmatch_thresholds",
    "get_confidence",
    "model_noise",
    "predict_probabilities",
    "ramp_weight",
    "select_pseudo_labels",
]
