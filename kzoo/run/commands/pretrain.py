"""`kzoo pretrain`: its options and description (TensorFlow-free; the run
is `kzoo.run.pretrain.pretrain`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    MODEL,
    POOL_DATA,
    RUNTIME,
    TRAINING,
    Opt,
    command,
)

SIMCLR_POLICY = "crop,randaugment(n=2,m=10)"
PRETRAIN_STEPS = 1500  # see kzoo/run/pretrain.py for how it was chosen

COMMAND = command(
    "pretrain", "a self-supervised encoder (SimCLR) from unlabelled images",
    """Train a self-supervised encoder (SimCLR) on unlabelled images.

  kzoo pretrain --data photos/ --model mobilenet_v3_small --input-size 96
  kzoo pretrain --data digits --out saved_models/pretrain-digits

--model without its classifier is the encoder; two --augment views of each
image go through it and a projection head (--projection-dim), and the
NT-Xent loss (--temperature) pulls the two together and pushes the other
images of the batch away. Labels are never read: --data is """ + POOL_DATA
    + """ (train/ and unlabeled/), or 'digits' / 'tfds:NAME' (the training
images). Writes the encoder as model.keras, config.json, pretrain.json,
training_log.csv and logs/; --weights RUN of any training command starts
the same --model from it (its classifier random), and kzoo select
--embedding RUN embeds with it. Resumes when the same command runs again.""",
    "kzoo.run.pretrain:pretrain",
    Opt("data", "digits", help=POOL_DATA + ", or 'digits' / 'tfds:NAME'"),
    Opt("seed", 0, t.seed),
    *MODEL,
    Opt("epochs", type=t.epochs, exclusive="length",
      help="passes over the images instead of a --steps budget"),
    Opt("steps", type=t.steps, exclusive="length",
      help=f"training steps (default: {PRETRAIN_STEPS:,} unless --epochs)"),
    Opt("batch_size", 256, t.batch_size,
      "images per step (each gives two views: 2x as many pass the network)"),
    Opt("lr", 1e-3, t.positive_float, "Adam learning rate"),
    Opt("schedule", "cosine", choices=("constant", "cosine")),
    Opt("augment", SIMCLR_POLICY, help="policy of each of the two views"),
    Opt("temperature", 0.2, t.positive_float, "NT-Xent softmax temperature"),
    Opt("projection_dim", 128, t.classes, "width of the projection head"),
    Opt("dropout", 0.0, t.rate, "dropout of the encoder's hidden FC layers"),
    *[o for o in TRAINING if o.name in (
        "jit_compile", "steps_per_execution", "check_every")],
    Opt("out", help="output folder (default: saved_models/pretrain-<data>)"),
    Opt("smoke", False, kind="switch",
      help="wiring check: 2 steps; writes to --out/smoke"),
    *RUNTIME,
)
