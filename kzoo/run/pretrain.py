"""Self-supervised features of the user's own images (SimCLR):
`kzoo pretrain`.

The encoder is --model without its classifier (every layer up to the input
of `predictions`), trained with `kzoo.training.SimCLRModel` as every kzoo
run trains (resumable, guarded `fit`, logs). It is written as `model.keras`
beside `config.json`, so that `--weights RUN` of every training command
starts a model of the same architecture from it (the classifier random)
and `kzoo select --embedding RUN` embeds with it.
"""

import os

import numpy as np

from kzoo.data import simclr_batches
from kzoo.outputs import save_keras, write_json
from kzoo.run import finish, fitting, inputs, pools, progress
from kzoo.run.commands.pretrain import PRETRAIN_STEPS
from kzoo.run.result import RunResult
from kzoo.run.session import session
from kzoo.training.simclr import SimCLRModel, encoder_of, with_projection

# The defaults (`kzoo.run.commands.pretrain`: 1,500 steps of 256 images,
# Adam 1e-3 with cosine decay, temperature 0.2, projection 128, both views
# "crop,randaugment(n=2,m=10)") were compared by what the encoder is for
# here, choosing images to label: the classes that TypiClust's 10 picks
# cover on the digits pool of seeds 0-9. The candidates and their scores:
# docs/results/pretrain_defaults.csv (the site's Results page).
# Decoded pools up to this size are kept in memory (float32 images).
CACHE_LIMIT_BYTES = 2 * 1024**3


def pretrain(config):
    """Train --model's encoder with SimCLR on the images of --data.

    Args:
        config: A `RunConfig` of `pretrain`.

    Returns:
        `RunResult` whose `model` is the encoder and `report` holds the
        last logged loss and the encoder's feature size.
    """
    if config.epochs is None and config.steps is None:
        config = config.replace(steps=PRETRAIN_STEPS)
    with session(config) as run:
        size = inputs.input_size(config)
        augment = inputs.make_policy(config.augment, (size, size), None,
                                     config.seed + 1)
        pool = pools.load_pool(config)
        channels = pools.channels_of(config, pool)
        data = pools.pool_splits(pool, size, channels)
        # an unusable size or --weights fails here, before any output
        backbone = config.weights if _backbone_file(config.weights) else None
        classifier = inputs.build_model(config, data, weights=backbone,
                                        num_classes=2)
        encoder = encoder_of(classifier)
        if config.weights and backbone is None:  # a run: its encoder layers
            inputs.load_initial_weights(encoder, config.model, config.weights)
        model = SimCLRModel(with_projection(encoder, config.projection_dim),
                            temperature=config.temperature)
        out = run.output_dir(config.out or os.path.join(
            "saved_models", f"pretrain-{pool.name}"))
        finish.write_config(config, data, out, input_size=size,
                            feature_size=int(np.prod(encoder.output.shape[1:])))
        progress.banner(f"SimCLR: {config.model} encoder on {len(pool):,} "
                        f"unlabelled images")
        cache = len(pool) * size * size * channels * 4 <= CACHE_LIMIT_BYTES
        batches = simclr_batches(data.train, config.batch_size, augment,
                                 seed=config.seed, cache=cache)
        fitting.compile_model(model, config, len(pool))
        fitting.fit(model, config, data, out, train=batches, num_train=len(pool),
                    phase="simclr", samples=False)
        save_keras(encoder, os.path.join(out, "model.keras"))
        report = {"loss": last_loss(out), "feature_size": int(
            np.prod(encoder.output.shape[1:])), "images": len(pool)}
        write_json(os.path.join(out, "pretrain.json"), report)
    progress.say(f"encoder: {os.path.join(out, 'model.keras')} "
                 f"({report['feature_size']} features); start a run from it "
                 f"with --weights {out}, or select with kzoo select "
                 f"--embedding {out}")
    return RunResult("pretrain", out, report=report, model=encoder)


def _backbone_file(weights):
    """Whether --weights is ImageNet or a keras.applications file (loaded
    into the backbone as a training run does), not a kzoo run."""
    return weights is not None and (weights == "imagenet" or str(weights).endswith(
        (".h5", ".weights.h5")))


def last_loss(out):
    """The last check's NT-Xent loss in `out/training_log.csv` (None
    without one)."""
    import csv

    path = os.path.join(out, "training_log.csv")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return round(float(rows[-1]["loss"]), 4) if rows else None
