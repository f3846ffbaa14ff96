"""`kzoo search`: its options and description (TensorFlow-free; the run
is `kzoo.run.search.search`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    TRAIN_OPTIONS,
    Opt,
    command,
    with_defaults,
)

SEARCH_TEMPLATE = "crop,randaugment(n={n},m={m})"

COMMAND = command(
    "search", "search RandAugment's (N, M) on the validation split",
    """Search RandAugment's (N, M): train briefly per pair, score on validation.

  kzoo search --labels-per-class 10 --trials 8
  kzoo search --data DIR --model vgg11_bn --width 0.25 --sampler grid \\
      --n-values 1,2 --m-values 5,10,15

Every trial trains the same model from the same seed on the same labelled
budget with policy --augment (its {n} and {m} filled in), scored on the
validation split; then the best (N, M) and a no-augmentation baseline are
retrained and scored on the test split, and the best model is exported. A
failed trial is recorded with its error. Writes search.json (after every
trial), heatmap.png, config.json and the SavedModel, and each fit's logs
under trials/trial<i>/, best/ and baseline/; the same command into the
same --out keeps the finished trials (--fresh discards them). On the
bundled digits the budget is 10 labels per class unless a budget flag
says.""",
    "kzoo.run.search:search",
    *with_defaults(TRAIN_OPTIONS, augment=SEARCH_TEMPLATE, epochs=100),
    Opt("trials", 8, t.trials, "(N, M) pairs to try with --sampler random"),
    Opt("sampler", "random", choices=("random", "grid"),
      help="random: --trials distinct pairs; grid: every pair"),
    Opt("n_values", [1, 2, 3], t.randaugment_ops),
    Opt("m_values", list(range(1, 31, 2)), t.magnitudes),
)
