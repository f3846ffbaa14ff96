"""`kzoo train`: its options and description (TensorFlow-free; the run
is `kzoo.run.train.train`)."""

from kzoo.run.options import (
    TRAIN_OPTIONS,
    command,
)

COMMAND = command(
    "train", "train a registered model and export it for TF Serving",
    """Train a registered model with model.fit and export it for TF Serving.

  kzoo train                                   # LeNet-5 on bundled digits
  kzoo train --model vgg11_bn --width 0.25 --data DIR --epochs 30

Writes to --out: config.json, metrics.json, confusion_matrix.png,
model.keras, training_log.csv, logs/ (TensorBoard) and the SavedModel in the
next version folder (1/, 2/...). Runs under --strategy (--batch-size is the
global batch), backs up each epoch to --out/backup and resumes from it when
the same command runs again, stops with the last good backup kept when the
loss turns NaN, and checks --out before training.""",
    "kzoo.run.train:train", *TRAIN_OPTIONS)
