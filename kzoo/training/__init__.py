"""Training with pre-trained knowledge: transfer learning, distillation, LwF.

- `transfer_model(source, num_classes, mode=...)` and `finetune_optimizer`:
  feature extraction (frozen backbone) or fine-tuning with a lower backbone
  learning rate.
- `WrapperModel`: the base of the training wrappers; it owns the train,
  test and predict steps, a subclass writes `forward` (its forward pass
  and per-example `LossTerms`). Every wrapper serves `network`.
- `backbone_features`, `features_dataset`, `head_of`: a frozen backbone's
  features computed once, and the head that trains on them.
- `Distiller`: knowledge distillation, `precompute_teacher_logits`.
- `LwFModel`: Learning without Forgetting.
- `SimCLRModel`, `encoder_of`, `with_projection`, `nt_xent`: SimCLR
  self-supervised features.

Names load on first use, so that `kzoo.training.optimizers` (whose classes
`import kzoo` registers with Keras) imports neither TensorFlow nor
`kzoo.models`.
"""

import importlib

_EXPORTS = {
    "Distiller": "distiller",
    "precompute_teacher_logits": "distiller",
    "backbone_features": "features",
    "features_dataset": "features",
    "head_of": "features",
    "crossentropy": "losses",
    "distillation_loss": "losses",
    "LwFModel": "lwf",
    "SimCLRModel": "simclr",
    "encoder_of": "simclr",
    "nt_xent": "simclr",
    "with_projection": "simclr",
    "LRMultiplierOptimizer": "optimizers",
    "ScaledSchedule": "optimizers",
    "load_model_source": "sources",
    "finetune_optimizer": "transfer",
    "transfer_model": "transfer",
    "LossTerms": "wrapper",
    "WrapperModel": "wrapper",
}

__all__ = [
    "Distiller",
    "LRMultiplierOptimizer",
    "LossTerms",
    "LwFModel",
    "ScaledSchedule",
    "SimCLRModel",
    "WrapperModel",
    "backbone_features",
    "crossentropy",
    "distillation_loss",
    "encoder_of",
    "features_dataset",
    "finetune_optimizer",
    "head_of",
    "load_model_source",
    "nt_xent",
    "precompute_teacher_logits",
    "transfer_model",
    "with_projection",
]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kzoo.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kzoo.training.{_EXPORTS[name]}"), name)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
