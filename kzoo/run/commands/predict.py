"""`kzoo predict`: its options and description (TensorFlow-free; the run
is `kzoo.run.predict.predict`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    Opt,
    command,
)

COMMAND = command(
    "predict", "predict classes of new images with a trained model",
    """Predict the classes of new, unlabelled images with a trained model.

  kzoo predict --model saved_models/lenet5-digits --data new_images/
  kzoo predict --model run/1 --data 'photos/*.jpg' --top-k 3 --format json

--model is a run folder (its latest version), a SavedModel version folder
or a .keras file. --data is a folder (searched at any depth), an image file
or a glob; repeat it for more (--data a.png --data 'b,c.png': each one item)
or give one comma-separated value (split unless a file or folder of exactly
that name exists). Images are read, decoded and resized as the
export's serving_default does, streamed in batches (memory does not grow
with the number of images). A file that does not decode is counted, listed
in the output with its error, and not predicted. Writes one row per file:
the path, the top --top-k classes and their probabilities.""",
    "kzoo.run.predict:predict",
    Opt("model", required=True,
      help="run folder, SavedModel version folder or .keras file"),
    Opt("data", required=True, type=t.path_list,
      help="folder, image file or glob; repeat the flag for more (each "
           "--data is one item, commas and all), or give one "
           "comma-separated value, which is split unless a file or folder of "
           "exactly that name exists; a config file's list is item by item"),
    Opt("out", help="output file (default: predictions.csv, or .json with "
                    "--format json)"),
    Opt("format", "csv", choices=("csv", "json")),
    Opt("top_k", 1, t.classes, "classes per image"),
    Opt("batch_size", 64, t.batch_size),
    Opt("smoke", False, kind="switch", help="predict 2 batches only"),
)
