"""Training with pre-trained knowledge: transfer learning, distillation, LwF.

- `transfer_model(source, num_classes, mode=...)` and `finetune_optimizer`:
  feature extraction (frozen backbone) or fine-tuning with a lower backbone
  learning rate.
- `WrapperModel`: the base of the training wrappers; it owns the train,
  test and predict steps, a subclass writes `forward` (its forward pass
  and per-example `LossTerms`). Every wrapper serves `network`.
- `Distiller`: knowledge distillation, `precompute_teacher_logits`.
- `LwFModel`: Learning without Forgetting.
"""

from kzoo.training.distiller import Distiller, precompute_teacher_logits
from kzoo.training.losses import crossentropy, distillation_loss
from kzoo.training.lwf import LwFModel
from kzoo.training.optimizers import LRMultiplierOptimizer, ScaledSchedule
from kzoo.training.sources import load_model_source
from kzoo.training.transfer import finetune_optimizer, transfer_model
from kzoo.training.wrapper import LossTerms, WrapperModel

__all__ = [
    "Distiller",
    "LRMultiplierOptimizer",
    "LossTerms",
    "LwFModel",
    "ScaledSchedule",
    "WrapperModel",
    "crossentropy",
    "distillation_loss",
    "finetune_optimizer",
    "load_model_source",
    "precompute_teacher_logits",
    "transfer_model",
]
