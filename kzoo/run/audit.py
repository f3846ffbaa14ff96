"""Which given labels are likely wrong: `kzoo audit`.

Every labelled image of a data folder gets an out-of-fold predicted
probability: the images are split into --folds stratified folds, and for
each fold the same technique a user trains with (`kzoo train` or
`kzoo fixmatch`, through the public `kzoo.run.run`) trains on the others
and predicts it. The labels to review are ranked by self-confidence (the
out-of-fold probability of the given label, lowest first): the ones
confident learning flags (`kzoo.audit.find_label_issues`, issue `label`),
then every other one the out-of-fold prediction disagrees with
(`disagrees`); near-duplicate images given different classes
(`kzoo.audit.cross_class_duplicates`, compared by --embedding) follow. Written as a CSV (`path, given, suggested, score, issue,
other`) that `kzoo label --review` shows, and a contact sheet beside it.

Each fold is a run of its own under --runs (its images linked, not
copied, into `fold-K/data/train|test/`): a killed audit resumes the fold
it was in, and a finished fold's predictions are reused when the same
command runs again.
"""

import csv
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from kzoo import audit as confident
from kzoo.analysis.plots import contact_sheet
from kzoo.data import sources
from kzoo.errors import KzooError
from kzoo.outputs import (
    atomic_path,
    check_csv_with_sheet,
    csv_cell,
    user_file,
    write_json,
)
from kzoo.run import pools, progress
from kzoo.run.result import RunResult
from kzoo.runtime import check_output_dir
from kzoo.select.embeddings import Embedding, embed

FIELDS = ("path", "given", "suggested", "score", "issue", "other")
RUNS_MARKER = "kzoo-audit.json"
SMOKE_FOLDS = 2
SHEET_IMAGES = 100
SHEET_SIZE = 64
# The technique's options an audit passes on when given.
PASSED = ("model", "width", "input_size", "channels", "weights", "epochs",
          "steps", "batch_size", "lr", "augment", "label_smoothing",
          "dropout", "jit_compile", "steps_per_execution")


def audit(config):
    """Rank the likely label errors of --data (see the module docstring).

    Returns:
        `RunResult` whose `report` holds the flagged `paths` (most likely
        wrong first) with their given and suggested labels and scores, the
        near-duplicate pairs, and the out-of-fold accuracy.

    Raises:
        KzooError: An --out or --runs that cannot be written, a folder
            that is not a data folder, a class with fewer images than
            --folds, fixmatch without unlabelled images; all before any
            training.
    """
    if config.technique == "train" and config.steps is not None:
        raise KzooError("kzoo train is measured in --epochs; --steps is "
                        "fixmatch's. Received: --technique train --steps "
                        f"{config.steps}")
    if config.epochs is not None and config.steps is not None:
        raise KzooError(f"Give --epochs or --steps, not both. Received: --epochs "
                        f"{config.epochs}, --steps {config.steps}")
    sheet = check_csv_with_sheet(config.out, config.data)
    parts = _labelled(config)
    folds = SMOKE_FOLDS if config.smoke else config.folds
    _check_folds(parts, folds)
    runs = config.runs or os.path.join(
        "saved_models", f"audit-{parts.name}")
    embedding = Embedding(config.embedding)
    _check_runs(runs)
    items, labels = parts.train, parts.train.labels
    progress.say(f"audit: {len(items):,} labelled images of {len(parts.class_names)} "
                 f"classes in {folds} folds, each trained with kzoo "
                 f"{config.technique} on the others (runs in {runs})")
    probabilities = np.full((len(items), len(parts.class_names)), np.nan)
    for k, (train, held) in enumerate(fold_indices(labels, folds, config.seed)):
        probabilities[held] = _fold(config, parts, k, train, held, runs)
    if np.isnan(probabilities).any():
        missing = int(np.isnan(probabilities).any(axis=1).sum())
        raise KzooError(f"{missing} images could not be read when their fold "
                        "predicted them (changed during the audit?); run the "
                        "same command again.")
    issues = confident.find_label_issues(probabilities, labels)
    ranked = to_review(probabilities, labels, issues)
    pairs, similarity = _duplicates(embedding, items, labels, parts.channels,
                                    config.duplicate_threshold)
    shown = [_as_given(p, config.data) for p in items.paths]
    rows = table(shown, labels, parts.class_names, probabilities, ranked,
                 issues, pairs, similarity)
    write_csv(config.out, rows)
    _sheet(items, shown, rows, sheet, parts.channels)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    progress.say(f"audit: out-of-fold accuracy {accuracy:.4f}; {len(issues)} "
                 f"likely label errors (confident learning), "
                 f"{len(ranked) - len(issues)} more labels the out-of-fold "
                 f"prediction disagrees with, {len(pairs)} near-duplicate pairs "
                 "across classes")
    for row in rows[:5]:
        progress.say(f"  {row['path']}: given {row['given']}, suggested "
                     f"{row['suggested']} ({row['issue']}, {row['score']})")
    progress.say(f"wrote {config.out} and {sheet}; review them with kzoo label "
                 f"--data {config.data} --review {config.out}")
    report = {"rows": rows, "issues": [int(i) for i in issues],
              "ranked": [int(i) for i in ranked],
              "duplicates": pairs.tolist(), "out_of_fold_accuracy": accuracy,
              "probabilities": probabilities, "sheet": sheet, "runs": runs}
    return RunResult("audit", config.out, report=report)


def fold_indices(labels, folds, seed):
    """`[(train indices, held-out indices)]` of stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b))
            for a, b in split.split(np.zeros(len(labels)), labels)]


def _labelled(config):
    if not os.path.isdir(os.path.join(config.data, "train")):
        raise KzooError(f"--data must be a kzoo data folder with its labelled "
                        f"images in DATA/train/<class>/. Received: --data "
                        f"{config.data}")
    parts = sources.folder_source(config.data)
    if config.technique == "fixmatch" and (parts.unlabeled is None
                                           or not len(parts.unlabeled)):
        raise KzooError(f"--technique fixmatch trains each fold on the "
                        f"unlabelled images too: expected them under "
                        f"{config.data}/unlabeled/. Received: none")
    pools.say_skipped(parts.skipped_reasons)
    return parts


def _check_folds(parts, folds):
    counts = np.bincount(parts.train.labels, minlength=len(parts.class_names))
    smallest = int(counts.argmin())
    if counts[smallest] < folds:
        raise KzooError(
            f"Class '{parts.class_names[smallest]}' has {counts[smallest]} "
            f"labelled images; {folds} folds need at least {folds} of each "
            f"class (every fold holds one out). Expected --folds "
            f"{max(2, int(counts[smallest]))} or fewer, or more labels. "
            f"Received: --folds {folds}")


def _check_runs(runs):
    """--runs: new, empty, or an earlier audit's (its marker file); never
    a folder of the user's own, whose files the fold folders would join."""
    if os.path.isdir(runs) and os.listdir(runs) and not os.path.exists(
            os.path.join(runs, RUNS_MARKER)):
        raise KzooError(f"--runs {runs} holds files that are not an audit's; "
                        "expected a new or empty folder, or an earlier audit's "
                        f"runs. Received: --runs {runs}")
    check_output_dir(runs)  # made with its parents, as every run's --out
    write_json(os.path.join(runs, RUNS_MARKER), {"kzoo_audit": 1})


def _fold(config, parts, k, train, held, runs):
    """Out-of-fold probabilities `[len(held), classes]` of fold `k`:
    reused when the same images, labels and options finished before; a
    fold whose images or labels changed trains from scratch (its backup is
    of other data)."""
    folder = os.path.join(runs, f"fold-{k + 1}")
    options = technique_options(config, os.path.join(folder, "run"))
    done_file = os.path.join(folder, "probabilities.npz")
    key_file = os.path.join(folder, "fold.json")
    key = fold_key(config, parts, train, held, options)
    if os.path.exists(done_file) and not config.fresh:
        with np.load(done_file) as done:
            if str(done["key"]) == key:
                progress.say(f"audit: fold {k + 1} finished before; reusing it")
                return done["probabilities"]
    changed = _read_key(key_file) not in (None, key)
    data = link_fold(parts, train, held, os.path.join(folder, "data"),
                     with_pool=config.technique == "fixmatch")
    write_json(key_file, {"key": key})
    progress.banner(f"audit fold {k + 1}: {len(train):,} images train, "
                    f"{len(held):,} held out")
    from kzoo.run import run

    result = run(config.technique, data=data, fresh=config.fresh or changed,
                 **options)
    probabilities = predict_items(result.model, parts.train.subset(held))
    with atomic_path(done_file) as tmp, open(tmp, "wb") as f:
        np.savez(f, probabilities=probabilities, key=np.array(key))
    return probabilities


def fold_key(config, parts, train, held, options):
    """A digest of what a fold's predictions depend on: the data folder,
    the technique and its options, and each image (path and label) on
    either side of the fold (and the pool, for fixmatch)."""
    items = parts.train
    pool = (parts.unlabeled.paths.tolist() if config.technique == "fixmatch"
            and parts.unlabeled is not None else [])
    text = json.dumps({
        "data": os.path.realpath(config.data), "technique": config.technique,
        "options": options, "classes": list(parts.class_names),
        "train": [[items.paths[i], int(items.labels[i])] for i in train],
        "held": [[items.paths[i], int(items.labels[i])] for i in held],
        "pool": pool}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_key(path):
    try:
        with open(path) as f:
            return json.load(f)["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def technique_options(config, out):
    """The options of each fold's run: the audit's own where given, every
    labelled image of the fold kept (no validation split: the held-out
    fold is the test), model.keras exported only."""
    options = {name: config.get(name) for name in PASSED
               if config.get(name) is not None}
    return dict(options, seed=config.seed, val_fraction=0.0, export=["keras"],
                out=out, smoke=config.smoke)


def link_fold(parts, train, held, folder, with_pool=False):
    """A data folder of symbolic links: `train/<class>/` the fold's
    training images, `test/<class>/` the held-out ones (and `unlabeled/`
    the pool). Returns its path."""
    import shutil

    if os.path.isdir(folder):
        shutil.rmtree(folder)  # links only, made by an earlier audit
    items = parts.train
    for split, indices in (("train", train), ("test", held)):
        for name in parts.class_names:
            os.makedirs(os.path.join(folder, split, name))
        for i in indices:
            _link(items.paths[i], os.path.join(
                folder, split, parts.class_names[items.labels[i]], f"{i:07d}"))
    if with_pool:
        os.makedirs(os.path.join(folder, "unlabeled"))
        for i, path in enumerate(parts.unlabeled.paths):
            _link(path, os.path.join(folder, "unlabeled", f"{i:07d}"))
    return folder


def _link(path, stem):
    os.symlink(os.path.abspath(path), stem + os.path.splitext(path)[1].lower())


def predict_items(model, items, batch_size=64):
    """Softmax probabilities `[len(items), classes]` of `model` (logits
    out) over `items`, as the run's own pipeline reads them (NaN rows for
    images that fail to read)."""
    height, width, channels = model.input_shape[1:]
    logits, kept, _ = embed(model, _indexed(items, (height, width), channels),
                            batch_size)
    out = np.full((len(items), model.output_shape[-1]), np.nan)
    out[kept] = _softmax(logits)
    return out


def _indexed(items, size, channels):
    data = items.dataset(tuple(size), channels)
    index = tf.data.Dataset.range(len(items))
    return tf.data.Dataset.zip(data, index).map(lambda xy, i: (xy[0], i))


def _softmax(logits):
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _duplicates(embedding, items, labels, channels, threshold):
    encoder, size, embed_channels = embedding.encoder(channels)
    vectors, kept, _ = embed(encoder, _indexed(items, (size, size), embed_channels))
    pairs, similarity = confident.cross_class_duplicates(
        vectors, labels[kept], threshold)
    return kept[pairs] if len(pairs) else pairs, similarity


def to_review(probabilities, labels, issues):
    """The images whose label to review, most likely wrong first: those
    confident learning flags (`issues`) and every other whose out-of-fold
    prediction is another class, ranked by self-confidence (the
    probability of the given label, lowest first)."""
    disagree = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    chosen = np.union1d(np.asarray(issues, np.int64), disagree)
    trust = confident.self_confidence(probabilities, labels)[chosen]
    return chosen[np.argsort(trust, kind="stable")]


def table(paths, labels, class_names, probabilities, ranked, issues, pairs,
          similarity):
    """The audit's rows: the labels to review (`ranked`; issue `label`
    for those confident learning flags, `disagrees` for the others; score
    = 1 - the probability of the given label), then the near-duplicate
    pairs across classes not already listed (most similar first; score =
    their cosine similarity), each as the image of the two whose given
    label the predictions trust less, the other in `other`."""
    rows, flagged, listed = [], {int(i) for i in issues}, set()
    for i in ranked:
        rows.append({"path": paths[i], "given": class_names[labels[i]],
                     "suggested": class_names[int(probabilities[i].argmax())],
                     "score": f"{1 - probabilities[i, labels[i]]:.4f}",
                     "issue": "label" if int(i) in flagged else "disagrees",
                     "other": ""})
        listed.add(int(i))
    trust = probabilities[np.arange(len(labels)), labels]
    for pair, s in zip(pairs, similarity):
        a, b = sorted((int(i) for i in pair), key=lambda i: trust[i])
        if a in listed:
            continue
        rows.append({"path": paths[a], "given": class_names[labels[a]],
                     "suggested": class_names[labels[b]], "score": f"{s:.4f}",
                     "issue": "near-duplicate", "other": paths[b]})
        listed.add(a)
    return rows


def write_csv(path, rows):
    """The rows as CSV (`csv_cell`: no cell a spreadsheet would run),
    written atomically."""
    with user_file(path, "w", newline="", option="--out") as f:
        out = csv.writer(f)
        out.writerow(FIELDS)
        for row in rows:
            out.writerow([csv_cell(row[k]) for k in FIELDS])


def _as_given(path, data):
    """An image's path under --data as the user spelt --data (relative
    paths stay relative), as kzoo select writes them."""
    return os.path.join(data, os.path.relpath(path, os.path.abspath(data)))


def _sheet(items, shown, rows, path, channels):
    """The images to review, in order, captioned given -> suggested."""
    rows = rows[:SHEET_IMAGES]
    index = {p: i for i, p in enumerate(shown)}
    chosen = items.subset(np.asarray([index[r["path"]] for r in rows], np.int64))
    size = (SHEET_SIZE, SHEET_SIZE)
    images = [x for x, _ in chosen.dataset(size, channels).as_numpy_iterator()]
    captions = [f"{r['given']} -> {r['suggested']}"
                + (" (dup)" if r["issue"] == "near-duplicate" else "") for r in rows]
    if not images:
        images, captions = [np.ones((*size, channels), np.float32)], ["none"]
    contact_sheet(np.nan_to_num(np.stack(images)), captions, path,
                  f"kzoo audit: {len(rows)} images to review (given -> suggested)")
