"""`kzoo select`: its options and description (TensorFlow-free; the run
is `kzoo.run.select.select`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    POOL_DATA,
    Opt,
    command,
)

# = kzoo.select.STRATEGIES (tests/run/test_config.py checks).
SELECT_STRATEGIES = ("typiclust", "probcover", "random", "margin", "entropy",
                     "badge", "coreset")

COMMAND = command(
    "select", "choose which images to label: TypiClust, ProbCover, margin, ...",
    """Choose which images to label, and write them as a CSV and a contact sheet.

  kzoo select --data photos/ --budget 20 --out to_label.csv
  kzoo select --data DIR --budget 50 --model saved_models/fixmatch-DIR

--data is """ + POOL_DATA + """: then the candidates are DIR/unlabeled/
and train/ counts as labelled. Without --model (nothing trained yet) the
default --strategy is typiclust: the most typical image of each of --budget
clusters of the embeddings. With --model (a kzoo run) it is margin: the
images the model is least sure between two classes; entropy and badge
(uncertain and diverse) read it too, and coreset (farthest from the
labelled images) compares its features. --embedding is what the
images are compared by: a kzoo run (e.g. a kzoo pretrain run: its
encoder's features), 'imagenet' or 'imagenet:NAME' (a registered model's
ImageNet backbone, mobilenet_v3_small by default), or 'pixels' (the images
themselves, 16x16); default: --model's features, else pixels. margin,
entropy and badge read --model's predictions and features only. Writes --out
(one row per image to label, in order: path, rank, strategy, score,
cluster) and the contact sheet --out with .png. The same --seed gives the
same choice.""",
    "kzoo.run.select:select",
    Opt("data", required=True, help=POOL_DATA),
    Opt("budget", required=True, type=t.positive_int, help="images to choose"),
    Opt("out", "selection.csv", help="CSV of the choice (and the sheet .png)"),
    Opt("strategy", choices=SELECT_STRATEGIES,
      help="default: typiclust without --model, margin with one"),
    Opt("embedding",
      help="RUN (a kzoo run folder or .keras file), imagenet[:NAME], or pixels "
           "(default: --model's features, else pixels)"),
    Opt("model", help="a trained kzoo run: its predictions (margin, entropy, "
                      "badge) and features"),
    Opt("seed", 0, t.seed),
    Opt("batch_size", 64, t.batch_size, "images per forward pass"),
    Opt("smoke", False, kind="switch",
      help="choose among the first 64 images only"),
)
