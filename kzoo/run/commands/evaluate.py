"""`kzoo evaluate`: its options and description (TensorFlow-free; the run
is `kzoo.run.evaluate.evaluate`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    DATA,
    Opt,
    command,
    with_defaults,
)

COMMAND = command(
    "evaluate", "score an exported SavedModel through serving_default",
    """Score an exported SavedModel through its serving_default signature.

  kzoo evaluate --model saved_models/lenet5-digits/1 --data digits
  kzoo evaluate --model saved_models/lenet5-digits     # latest version, its data

Without --data the test split of the data the run trained on is scored: the
--data (with its --data-dir and --classes, unless given) recorded in the
run's config.json (in the version folder's assets.extra/, else next to
it); with no record, the bundled digits. The first line says which.
Test images are fed encoded (file bytes, or PNG for in-memory data), as TF
Serving receives them; predicted class names are matched to the data's.
Files the data scan skipped are counted, listed with their reasons and
recorded (skipped_files), never scored.""",
    "kzoo.run.evaluate:evaluate",
    Opt("model", required=True,
      help="SavedModel version folder, or a base folder of numbered versions "
           "(the latest is scored)"),
    *with_defaults(DATA, data=None),
    Opt("task", help="output of a multi-task export to score, e.g. 'new' or 'old' "
                   "(an LwF model) (default: the single output)"),
    Opt("batch_size", 64, t.batch_size),
    Opt("out", help="metrics JSON path (default: not written)"),
    Opt("smoke", False, kind="switch", help="score 2 batches only"),
)
