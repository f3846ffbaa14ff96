"""Baselines on raw pixels: a single-layer perceptron and k-nearest neighbours."""

import keras
import numpy as np
from keras import ops

from kzoo.models import heads
from kzoo.models.registry import ModelNoise, register_model


@register_model(
    default_input_shape=(32, 32, 1),
    family="baseline",
    options=dict(
        include_preprocessing=True, classifier_activation=None, name="perceptron"
    ),
    noise=ModelNoise(
        "none (the perceptron has no hidden layer): input noise only", option=None
    ),
    feature_layers={None: "flatten"},  # the pixels themselves
)
def perceptron(
    num_classes=10,
    input_shape=(32, 32, 1),
    include_preprocessing=True,
    classifier_activation=None,
    name="perceptron",
):
    """One Dense layer on the raw pixels: the linear baseline.

    Its kernel column for class c, reshaped to the image shape, is the
    "template" the class is matched against; see
    `kzoo.analysis.plot_weight_templates`.

    Args:
        num_classes: Number of classes.
        input_shape: `(height, width, channels)`.
        include_preprocessing: Prepend `Rescaling(1/255)`.
        classifier_activation: None returns logits.
        name: Model name.

    Returns:
        A `keras.Model`.
    """
    input_shape = heads.validate_common(num_classes, input_shape, True, None, 1.0)
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if include_preprocessing:
        x = heads.preprocessing_layer("unit", input_shape[-1])(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = heads.logits_layer(num_classes, classifier_activation)(x)
    return keras.Model(inputs, outputs, name=name)


class KNNClassifier:
    """Exact k-nearest-neighbour classifier over pixels or embeddings.

    Distances are computed in batches with `keras.ops` as
    `|q|^2 - 2 q.X^T + |X|^2`. Memory: the stored set is O(n * d) floats
    and one query batch needs O(batch_size * n) more, so cost grows linearly
    with the training set and never forms the full n_query x n matrix.

    Args:
        k: Number of neighbours voting.
        feature_extractor: Optional Keras model mapping images to embeddings
            (e.g. a kzoo model built with `include_top=False, pooling="avg"`);
            raw pixels (flattened) when None.
        batch_size: Query batch size.

    Example:
        >>> knn = KNNClassifier(k=3).fit(x_train, y_train)
        >>> y_pred = knn.predict(x_test)
    """

    def __init__(self, k=5, feature_extractor=None, batch_size=256):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"`k` must be a positive integer. Received: k={k!r}")
        self.k = k
        self.feature_extractor = feature_extractor
        self.batch_size = batch_size
        self._features = None
        self._labels = None

    def _embed(self, x):
        x = np.asarray(x, dtype="float32")
        if self.feature_extractor is not None:
            x = self.feature_extractor.predict(x, batch_size=self.batch_size, verbose=0)
        return np.asarray(x, dtype="float32").reshape(len(x), -1)

    def fit(self, x, y):
        """Store the training embeddings and integer labels; returns self."""
        if len(x) < self.k:
            raise ValueError(
                f"Need at least k={self.k} training examples. Received: {len(x)}"
            )
        self._features = ops.convert_to_tensor(self._embed(x))
        self._sq_norms = ops.sum(ops.square(self._features), axis=1)
        self._labels = np.asarray(y, dtype="int32")
        self._num_classes = int(self._labels.max()) + 1
        return self

    def predict(self, x):
        """Class ids of `x` by majority vote; ties go to the nearer class."""
        if self._features is None:
            raise ValueError("Call `fit` before `predict`.")
        queries = self._embed(x)
        labels = ops.convert_to_tensor(self._labels)
        # Votes decay slightly with rank so that ties favour nearer neighbours.
        rank_weight = 1.0 - ops.arange(self.k, dtype="float32") / (2.0 * self.k)
        out = []
        for start in range(0, len(queries), self.batch_size):
            q = ops.convert_to_tensor(queries[start : start + self.batch_size])
            dist = (
                ops.sum(ops.square(q), axis=1, keepdims=True)
                - 2.0 * ops.matmul(q, ops.transpose(self._features))
                + self._sq_norms[None, :]
            )
            _, idx = ops.top_k(-dist, k=self.k)
            votes = ops.one_hot(ops.take(labels, idx), self._num_classes)
            scores = ops.sum(votes * rank_weight[None, :, None], axis=1)
            out.append(ops.convert_to_numpy(ops.argmax(scores, axis=-1)))
        return np.concatenate(out).astype("int32")
