"""Noticing, during a semi-supervised run, what its accuracy lines hide: a
class that gets no confident pseudo-labels, or two classes that swapped.

With one or a few labels per class, a run can fit every labelled image and
still teach the wrong class to a whole region of the pool: the training
accuracy is 1, the mask rate high, and (without a large validation split)
nothing says so. `CollapseMonitor` looks at each check with the
averaged network:

- **starved**: a class's share of the confident predictions on a sample
  of the pool (confidence >= `threshold`) is under `STARVED_RATIO` of its
  share of the labelled images;
- **taken**: the labelled images of class c mostly have nearest pool
  neighbours (cosine, in the network's feature space: the input of its
  `predictions` layer) that the network predicts as another class d
  (fewer than `AGREEMENT` of their `K_NEIGHBOURS` neighbours take c); when
  d's are taken by c too, the two classes **swapped**.

Findings are watched from the first check and said in the second half of
the run (`LATE`), once one has lasted `PERSIST` checks in a row (with the
step it appeared at), and again when it goes: early in a run classes
often starve for a while and recover, and in good runs findings are
seen only then, if at all. The run's warnings (`metrics.json`, the
summary) are the findings said, with the first and last step each was
seen at: a swap the network has settled into can hide from its own
feature space by the end (its features then agree with its
predictions), so a finding gone at the end still counts. `diagnose` is the NumPy
rule, testable on hand-made predictions.
"""

import keras
import numpy as np
import tensorflow as tf

from kzoo.data.items import indexed

K_NEIGHBOURS = 10
AGREEMENT = 0.5  # below: the class's labelled images are "taken"
STARVED_RATIO = 0.25  # below this part of its labelled share: "starved"
MIN_CONFIDENT = 0.1  # share of the pool sample that must be confident to judge shares
PERSIST = 2  # checks in a row before a finding is said (early checks are noisy)
# A run's warnings are the findings still seen after this share of its
# steps: early in a run classes starve and move for a while and recover.
LATE = 0.5
POOL_SAMPLE = 512
LABELLED_SAMPLE = 512


def class_shares(probs, threshold):
    """Per class, its share of the confident predictions (max prob >=
    `threshold`), and the share of `probs` that is confident."""
    probs = np.asarray(probs, np.float64)
    confident = probs.max(-1) >= threshold
    counts = np.bincount(probs.argmax(-1)[confident], minlength=probs.shape[1])
    total = counts.sum()
    shares = counts / total if total else np.zeros(probs.shape[1])
    return shares, float(confident.mean()) if len(probs) else 0.0


def _normalised(x):
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def neighbour_votes(labelled_features, pool_features, pool_predictions, num_classes,
                    k=K_NEIGHBOURS):
    """For each labelled image, the classes the network predicts for its
    `k` nearest pool images (cosine): float `[n, C]` fractions."""
    if not len(pool_features) or not len(labelled_features):
        return np.zeros((len(labelled_features), num_classes))
    k = min(k, len(pool_features))
    similarity = _normalised(labelled_features) @ _normalised(pool_features).T
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    votes = np.asarray(pool_predictions)[nearest]
    return np.stack([np.bincount(v, minlength=num_classes) / k for v in votes])


def diagnose(shares, confident, expected, votes, labels, class_names=None):
    """The findings of one check.

    Args:
        shares: `[C]` each class's share of the confident predictions.
        confident: Share of the pool sample that is confident.
        expected: `[C]` the labelled class distribution.
        votes: `[n, C]` `neighbour_votes` of the labelled images.
        labels: `[n]` their labels.
        class_names: Names to say (default: the indices).

    Returns:
        A list of dicts, each `{"kind": "starved"|"taken"|"swapped",
        "classes": [names], "key": ..., "text": ...}`.
    """
    names = list(class_names) if class_names is not None else [
        str(c) for c in range(len(expected))]
    labels = np.asarray(labels)
    findings = []
    if confident >= MIN_CONFIDENT:
        for c in np.flatnonzero(np.asarray(shares) < STARVED_RATIO * np.asarray(expected)):
            findings.append({
                "kind": "starved", "classes": [names[c]],
                "text": (f"class {names[c]!r} gets {shares[c]:.1%} of the confident "
                      f"pseudo-labels against {expected[c]:.1%} of the labels")})
    taken = {}
    for c in range(len(expected)):
        rows = np.asarray(votes)[labels == c]
        if not len(rows):
            continue
        mean = rows.mean(0)
        if mean[c] < AGREEMENT:
            others = mean.copy()
            others[c] = -1
            taken[c] = (int(others.argmax()), float(mean[c]))
    for c, (d, agreement) in sorted(taken.items()):
        if taken.get(d, (None,))[0] == c:
            if c < d:
                findings.append({
                    "kind": "swapped", "classes": [names[c], names[d]],
                    "text": (f"classes {names[c]!r} and {names[d]!r} look swapped: the "
                          "pool images nearest each one's labelled images are "
                          "predicted as the other")})
            continue
        findings.append({
            "kind": "taken", "classes": [names[c], names[d]],
            "text": (f"the pool images nearest the labelled {names[c]!r} images are "
                  f"predicted {names[d]!r} ({agreement:.0%} take {names[c]!r})")})
    for f in findings:
        f["key"] = f"{f['kind']}:{','.join(f['classes'])}"
    return findings


class CollapseMonitor(keras.callbacks.Callback):
    """Watch a `FixMatchModel`'s classes at every check (a Keras epoch).

    Args:
        labelled: `(images, labels)` NumPy arrays (a sample of at most
            `LABELLED_SAMPLE`).
        pool: Images of a sample of the unlabelled pool.
        expected: `[C]` the labelled class distribution.
        threshold: Confidence of a pseudo-label that counts as confident.
        class_names: The classes' names.
        plan: The fit's `FitPlan` (a check's training step).
        say: Called with each new finding's line.

    A resumed run's monitor starts again at the resume: what was seen
    before the interruption is not in its report.
    """

    def __init__(self, labelled, pool, expected, threshold=0.95, class_names=None,
                 plan=None, say=print):
        super().__init__()
        self.images, self.labels = labelled
        self.pool = pool
        self.expected = np.asarray(expected, np.float64)
        self.threshold = threshold
        self.class_names = class_names
        self.plan = plan
        self.say = say
        self.active = {}  # key -> finding with its "since" step
        self.seen = {}  # key -> said finding with its first and last step
        self.last = None
        self.checks = 0
        self._forward = None

    def step_of(self, epoch):
        return (epoch + 1) * (self.plan.steps_per_epoch if self.plan else 1)

    def _features_and_probs(self, images):
        if self._forward is None:
            self._forward = averaged_features(self.model)
        features, probs = [], []
        for i in range(0, len(images), 256):
            f, p = self._forward(images[i:i + 256])
            features.append(f)
            probs.append(p)
        return np.concatenate(features), np.concatenate(probs)

    def check(self, step, final=False):
        """Diagnose the model now; say what has lasted and what went;
        return the findings (`final`: every finding counts as lasting)."""
        pool_features, pool_probs = self._features_and_probs(self.pool)
        features, _ = self._features_and_probs(self.images)
        shares, confident = class_shares(pool_probs, self.threshold)
        votes = neighbour_votes(features, pool_features, pool_probs.argmax(-1),
                                len(self.expected))
        findings = diagnose(shares, confident, self.expected, votes, self.labels,
                            self.class_names)
        now = {}
        late = final or step > LATE * (self.plan.total_steps if self.plan else 0)
        for f in findings:
            before = self.active.get(f["key"], {})
            f["since"] = before.get("since", step)
            f["checks"] = before.get("checks", 0) + (PERSIST if final else 1)
            f["said"] = before.get("said", False)
            if not f["said"] and late and f["checks"] >= PERSIST:
                self.say(f"CLASS WARNING (step {step:,}, seen since step "
                         f"{f['since']:,}): {f['text']}")
                f["said"] = True
            if f["said"]:
                first = self.seen.get(f["key"], {}).get("since", f["since"])
                self.seen[f["key"]] = dict(f, since=first, until=step)
            now[f["key"]] = f
        for key, f in self.active.items():
            if key not in now and f["said"]:
                self.say(f"step {step:,}: gone: {f['text']}")
        self.active = now
        self.checks += 1
        self.last = {"step": step, "confident": round(confident, 4),
                         "shares": [round(float(s), 4) for s in shares],
                         "agreement": self.agreement(votes)}
        return [f for f in findings if f["said"]]

    def agreement(self, votes):
        """Per class: the mean share of its labelled images' neighbours
        predicted as it (None for a class with no labelled image)."""
        out = []
        for c in range(len(self.expected)):
            rows = np.asarray(votes)[np.asarray(self.labels) == c]
            out.append(round(float(rows[:, c].mean()), 4) if len(rows) else None)
        return out

    def on_epoch_end(self, epoch, logs=None):
        findings = self.check(self.step_of(epoch))
        if logs is not None:
            logs["collapse_warnings"] = float(len(findings))

    def final(self):
        """`report()`, after one check now when no check ran in this
        process (the training had finished before: a resumed, finished
        run)."""
        if self.last is None:
            self.check(self.plan.total_steps if self.plan else 0, final=True)
        return self.report()

    def report(self):
        """What `metrics.json` records: the run's warnings (findings said in
        its last half, `LATE`, each with the first and last step it was
        seen at) and the last check's class shares and neighbour agreement."""
        total = self.plan.total_steps if self.plan else 0
        late = [f for f in self.seen.values() if f["until"] > LATE * total]
        keys = ("kind", "classes", "since", "until", "text")
        return {"checks": self.checks,
                "warnings": [{k: f[k] for k in keys} for f in late],
                "last_check": self.last}


def sample_arrays(dataset, size, limit):
    """At most `limit` examples of an unbatched `(image, label)` dataset of
    `size` examples, evenly spread over it (every k-th), as NumPy arrays;
    unreadable images (NaN pixels, or a file that fails to read) left out.
    A dataset of files readable by index (`kzoo.data.items.indexed`)
    decodes only the examples taken."""
    stride = max(1, -(-int(size) // int(limit)))
    reader = indexed(dataset)
    if stride > 1 and reader is not None:
        dataset = tf.data.Dataset.range(0, reader.count, stride).map(
            reader.read).ignore_errors()
    elif stride > 1:
        dataset = dataset.shard(stride, 0)
    images, labels = [], []
    for image, label in dataset.as_numpy_iterator():
        if np.isfinite(image).all():
            images.append(image)
            labels.append(label)
    return np.asarray(images, np.float32), np.asarray(labels)


def averaged_features(model):
    """A function: images -> `(features, probabilities)` of `model`'s
    served network with its averaged weights (`FixMatchModel.ema_weights`
    when it keeps them), in inference mode."""
    network = model.network
    names = [layer.name for layer in network.layers]
    head = (network.get_layer("predictions") if "predictions" in names
            else network.layers[-1])
    both = keras.Model(network.input, [head.input, network.output])
    position = {id(v): i for i, v in enumerate(network.trainable_variables)}

    def forward(images):
        if getattr(model, "ema_weights", None):
            trainable = [model.ema_weights[position[id(v)]].value
                         for v in both.trainable_variables]
            non_trainable = [v.value for v in both.non_trainable_variables]
            (features, logits), _ = both.stateless_call(
                trainable, non_trainable, images, training=False)
        else:
            features, logits = both(images, training=False)
        probs = keras.ops.softmax(keras.ops.cast(logits, "float32"))
        return (np.asarray(features, np.float32).reshape(len(images), -1),
                np.asarray(probs, np.float32))

    return forward
