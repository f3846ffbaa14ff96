"""Which images to label next: `kzoo select`.

The pool (`kzoo.run.pools`) is embedded in one streamed pass
(`kzoo.select.embeddings`), with --model's predictions where the strategy
reads them; `kzoo.select.select` picks --budget images; the choice is
written as a CSV (`path, rank, strategy, score, cluster`, in the order to
label) and a contact sheet beside it. Every error about the options (an
unknown embedding, a strategy that needs --model, an --out that cannot be
written) comes before any image is read; one about the images (a budget
larger than the pool, an embedding run whose input does not fit them)
before anything is written.
"""

import csv
import os

import numpy as np

from kzoo import select as selection
from kzoo.analysis.plots import contact_sheet
from kzoo.errors import KzooError
from kzoo.outputs import check_csv_with_sheet, csv_cell, user_file
from kzoo.run import pools, progress
from kzoo.run.result import RunResult
from kzoo.select.embeddings import PIXELS, Embedding, embed
from kzoo.training import load_model_source
from kzoo.training.simclr import ENCODER_OUTPUT

SMOKE_IMAGES = 64
SHEET_SIZE = 64  # contact-sheet images at most this many pixels a side
SHEET_IMAGES = 100  # the first this many picks are drawn
FIELDS = ("path", "rank", "strategy", "score", "cluster")


def select(config):
    """Choose --budget images of --data to label (see the module docstring).

    Returns:
        `RunResult` whose `report` holds the chosen `paths`, their `scores`
        and `clusters`, the `strategy`, the `embedding` and the sheet's path.

    Raises:
        KzooError: As the module docstring says.
    """
    strategy = config.strategy or (
        selection.WITH_MODEL if config.model else selection.COLD_START)
    needs_model = selection.STRATEGIES[strategy].needs_model
    if needs_model and not config.model:
        raise KzooError(f"--strategy {strategy} ranks a model's predictions: "
                        "pass --model RUN (a trained kzoo run), or use a cold-start "
                        f"strategy (typiclust, probcover). Received: --strategy "
                        f"{strategy}")
    if needs_model and config.embedding:
        raise KzooError(
            f"--strategy {strategy} reads --model's predictions and features, "
            "never --embedding: leave it out. Received: --embedding "
            f"{config.embedding}")
    sheet = check_csv_with_sheet(config.out, config.data)
    # Errors about the options come before any image is read. A strategy
    # that reads a model takes its features too (BADGE's are those its
    # last layer reads); the others compare images by --embedding.
    classifier = _classifier(config.model) if config.model else None
    if needs_model:
        embedding = Embedding(config.model, model=classifier)
    else:
        same = classifier is not None and config.embedding in (None, config.model)
        embedding = Embedding(config.embedding or config.model or PIXELS,
                              model=classifier if same else None)
        classifier = None
    pool = pools.load_pool(config, need_unlabeled=True)
    if config.smoke:
        pool.items = pool.items.subset(np.arange(min(SMOKE_IMAGES, len(pool))))
    if config.budget > len(pool):
        raise KzooError(f"--budget is larger than the pool: {len(pool):,} "
                        f"images to choose from. Received: --budget {config.budget}")
    encoder, size, channels = embedding.encoder(pool.channels)
    progress.say(f"select: {strategy}, {config.budget} of {len(pool):,} images; "
                 f"embedding: {embedding.describe(encoder)}")
    vectors, kept, probabilities, labeled = _embed_all(
        config, pool, encoder, size, channels, classifier)
    if config.budget > len(kept):
        raise KzooError(f"--budget is larger than the {len(kept):,} images that "
                        f"could be read. Received: --budget {config.budget}")
    chosen = selection.select(strategy, config.budget, embeddings=vectors,
                              probabilities=probabilities, labeled=labeled,
                              seed=config.seed)
    paths = _paths(pool, kept[chosen.indices])
    write_csv(config.out, paths, chosen)
    _sheet(pool, kept[chosen.indices], paths, chosen, sheet, channels=pool.channels)
    report = {"paths": paths, "scores": chosen.scores.tolist(),
              "clusters": chosen.clusters.tolist(), "strategy": strategy,
              "embedding": embedding.spec, "sheet": sheet, **chosen.info}
    progress.say(f"wrote {config.out} ({len(paths)} images, in the order to "
                 f"label them) and {sheet}")
    return RunResult("select", config.out, report=report)


def _classifier(path):
    model = load_model_source(path)
    if not any(layer.name == ENCODER_OUTPUT for layer in model.layers):
        raise KzooError(f"--model must be a trained classifier (a kzoo run with "
                        f"a '{ENCODER_OUTPUT}' layer); {path} has none (a "
                        f"kzoo pretrain encoder goes to --embedding). Received: "
                        f"--model {path}")
    return model


def _embed_all(config, pool, encoder, size, channels, classifier):
    """`(embeddings, kept pool indices, probabilities or None, labelled
    embeddings or None)`: one pass over the pool (the classifier, when
    given, shares the encoder's input), one over train/."""
    total = len(pool)
    step = max(1000, total // 10)

    def said(done):
        if done % step < config.batch_size and done < total:
            progress.say(f"select: {done:,}/{total:,} images embedded")

    vectors, kept, probabilities = embed(
        encoder, pool.dataset((size, size), channels), config.batch_size,
        with_logits=classifier, on_batch=said)
    labeled = None
    if pool.labeled is not None and len(pool.labeled):
        labeled, _, _ = embed(encoder, pool.dataset((size, size), channels,
                                                    part="labeled"),
                              config.batch_size)
    return vectors, kept, probabilities, labeled


def _paths(pool, indices):
    paths = pool.paths
    if paths is None:
        return [f"{pool.name}:{int(i)}" for i in indices]
    return [paths[int(i)] for i in indices]


def write_csv(path, paths, chosen):
    """The choice as CSV rows `path, rank, strategy, score, cluster`
    (`csv_cell`: no cell a spreadsheet would run), written atomically."""
    with user_file(path, "w", newline="", option="--out") as f:
        table = csv.writer(f)
        table.writerow(FIELDS)
        for rank, (p, score, cluster) in enumerate(
                zip(paths, chosen.scores, chosen.clusters), start=1):
            table.writerow([csv_cell(p), rank, chosen.strategy,
                            "" if np.isnan(score) else f"{score:.6g}",
                            "" if cluster < 0 else int(cluster)])


def _sheet(pool, indices, paths, chosen, path, channels):
    """The chosen images, in order, captioned with their rank and name."""
    order = np.asarray(indices)[:SHEET_IMAGES]
    paths = paths[:SHEET_IMAGES]
    subset = pool.items.subset(order)
    size = (SHEET_SIZE, SHEET_SIZE)
    images = [x for x, _ in subset.dataset(size, channels).as_numpy_iterator()]
    captions = [f"{rank}. {_short(os.path.basename(p))}"
                for rank, p in enumerate(paths, start=1)]
    title = (f"kzoo select: {len(chosen.indices)} images to label, in order "
             f"({chosen.strategy})" + (f"; the first {SHEET_IMAGES} shown"
                                       if len(chosen.indices) > SHEET_IMAGES else ""))
    contact_sheet(np.nan_to_num(np.stack(images)), captions, path, title)


def _short(name, limit=14):
    return name if len(name) <= limit else name[:limit - 3] + "..."
