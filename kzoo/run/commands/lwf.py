"""`kzoo lwf`: its options and description (TensorFlow-free; the run
is `kzoo.run.lwf.lwf`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    TRAIN_OPTIONS,
    Opt,
    Refuse,
    command,
    with_defaults,
)

LWF_METHODS = ("feature", "finetune", "lwf")

COMMAND = command(
    "lwf", "Learning without Forgetting: add a task, keep the old one",
    """Learning without Forgetting: add a task to a trained model, keep the old one.

  kzoo train --classes 0,1,2,3,4 --out saved_models/digits-0to4
  kzoo lwf --old-model saved_models/digits-0to4/1 --old-classes 0,1,2,3,4 \\
      --classes 5,6,7,8,9

Methods (Li & Hoiem 2018), all from the same warm-up (backbone and old head
frozen, new head trained for --warmup-epochs): feature (stop there),
finetune (then backbone + new head), lwf (then everything, with
--old-loss-weight times the T^2-scaled distillation to the old head's
recorded outputs). Old-task accuracy is measured on the old classes' test
split. Each method exports one SavedModel serving both tasks under
--out/<method>; --out gets lwf.json with the table.""",
    "kzoo.run.lwf:lwf",
    *with_defaults(TRAIN_OPTIONS,
           model=Refuse("the network is --old-model with a new head"),
           width=Refuse("the backbone is --old-model's"),
           dropout=Refuse("the new head has no dropout"),
           weights=Refuse("the weights are --old-model's")),
    Opt("old_model", required=True,
      help=".keras file or kzoo SavedModel of the old-task model"),
    Opt("old_classes", type=t.name_list, required=True,
      help="the old task's classes in the data spec, in the model's order"),
    Opt("method", "all", choices=LWF_METHODS + ("all",)),
    Opt("warmup_epochs", 30, t.epochs),
    Opt("temperature", 2.0, t.positive_float),
    Opt("old_loss_weight", 1.0, t.non_negative_float),
)
