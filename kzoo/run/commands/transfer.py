"""`kzoo transfer`: its options and description (TensorFlow-free; the run
is `kzoo.run.transfer.transfer`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    TRAIN_OPTIONS,
    Opt,
    Refuse,
    command,
    with_defaults,
)

TRANSFER_MODES = ("head", "finetune", "scratch")

COMMAND = command(
    "transfer", "transfer a trained model to new classes (head, finetune, scratch)",
    """Transfer a trained model to new classes: new head only, fine-tune, or scratch.

  kzoo train --classes 0,1,2,3,4 --out saved_models/digits-0to4
  kzoo transfer --source saved_models/digits-0to4/1 --classes 5,6,7,8,9 \\
      --labels-per-class 5 --mode all

--mode head trains a new classifier on the frozen backbone (BatchNorm in
inference mode); finetune trains everything, the backbone at
--backbone-lr-multiplier times --lr; scratch trains the same architecture
from random weights; all runs the three side by side. The source's input
size and channels are used. Each mode writes its outputs under
--out/<mode>; --out gets transfer.json with the table.""",
    "kzoo.run.transfer:transfer",
    *with_defaults(TRAIN_OPTIONS,
           model=Refuse("the model is --source with a new head"),
           width=Refuse("the backbone is --source's"),
           dropout=Refuse("use --head-dropout")),
    Opt("source", required=True,
      help="the trained model: a kzoo run folder, .keras file or SavedModel "
           "folder; or a registered model name with --weights (e.g. "
           "--source mobilenet_v3_small --weights imagenet)"),
    Opt("mode", "head", choices=TRANSFER_MODES + ("all",)),
    Opt("backbone_lr_multiplier", 0.1, t.non_negative_float,
      "backbone learning rate / head learning rate (finetune)"),
    Opt("feature_layer",
      help="last backbone layer (default: the model's feature end)"),
    Opt("head_dropout", 0.0, t.rate),
)
