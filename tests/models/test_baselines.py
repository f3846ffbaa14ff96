import numpy as np
import pytest

from kzoo.analysis import classification_report, plot_weight_templates
from kzoo.data import load_data
from kzoo.models import KNNClassifier, create_model, perceptron


def _arrays(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.stack(xs), np.array(ys)


def test_knn_matches_brute_force_numpy():
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(60, 5)).astype("float32")
    y_train = rng.integers(0, 3, 60)
    x_test = rng.normal(size=(17, 5)).astype("float32")
    got = KNNClassifier(k=1, batch_size=4).fit(x_train, y_train).predict(x_test)
    dist = ((x_test[:, None] - x_train[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(got, y_train[np.argmin(dist, axis=1)])


def test_knn_vote_and_tie_break():
    x_train = np.array([[0.0], [1.0], [2.0], [10.0]], "float32")
    y_train = np.array([1, 0, 0, 1])
    # neighbours of 0.4: 0 (label 1), 1 (label 0), 2 (label 0) -> majority 0
    assert KNNClassifier(k=3).fit(x_train, y_train).predict([[0.4]])[0] == 0
    # k=2: one vote each; the nearer neighbour (label 1) wins
    assert KNNClassifier(k=2).fit(x_train, y_train).predict([[0.4]])[0] == 1


def test_knn_on_digits_pixels_and_embeddings():
    data = load_data("digits", image_size=(8, 8), val_fraction=0)
    x_train, y_train = _arrays(data.train)
    x_test, y_test = _arrays(data.test)
    y_pred = KNNClassifier(k=3).fit(x_train, y_train).predict(x_test)
    report = classification_report(y_test, y_pred, data.class_names)
    assert report["accuracy"] > 0.95  # k-NN on raw digits pixels: ~0.98
    extractor = create_model("lenet5", input_shape=(16, 16, 1), include_top=False,
                             pooling="flatten")
    knn = KNNClassifier(k=3, feature_extractor=extractor)
    x16 = np.repeat(np.repeat(x_train, 2, axis=1), 2, axis=2)
    knn.fit(x16, y_train)
    assert knn.predict(x16[:5]).shape == (5,)


def test_knn_errors():
    with pytest.raises(ValueError, match="k"):
        KNNClassifier(k=0)
    with pytest.raises(ValueError, match="fit"):
        KNNClassifier().predict(np.zeros((1, 2)))


def test_perceptron_templates_png(tmp_path):
    model = perceptron(num_classes=4, input_shape=(6, 5, 1))
    assert model.count_params() == 6 * 5 * 4 + 4
    path = tmp_path / "templates.png"
    templates = plot_weight_templates(model, str(path), class_names=list("abcd"))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert templates.shape == (4, 6, 5, 1)
    kernel = np.asarray(model.get_layer("predictions").kernel)
    # template c is column c of the kernel, min-max scaled
    col = kernel[:, 2].reshape(6, 5, 1)
    np.testing.assert_allclose(
        templates[2], (col - col.min()) / (col.max() - col.min()), atol=1e-6
    )
