import numpy as np
import pytest
import tensorflow as tf

from kzoo.models import family_noise, get_model_entry, list_families, list_models
from kzoo.semi_supervised import MODEL_NOISE, model_noise, predict_probabilities
from tests.training.helpers import images_and_labels, student_model


def test_predict_probabilities_streams_the_pool_in_order():
    x, y = images_and_labels(n=23)
    model = student_model()
    pool = tf.data.Dataset.from_tensor_slices((x, np.full(23, -1, "int32")))
    probs = predict_probabilities(model, pool, batch_size=5)
    expected = tf.nn.softmax(model.predict(x, verbose=0)).numpy()
    assert probs.shape == (23, 4) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_every_registered_family_has_a_documented_noise():
    families = {get_model_entry(name).family for name in list_models()}
    assert families <= set(MODEL_NOISE)
    assert "dropout" in model_noise("vgg") and "input noise only" in model_noise("x")


def test_model_noise_is_read_from_the_registry():
    assert set(MODEL_NOISE) == set(list_families()) and len(MODEL_NOISE) == 8
    for name in list_models():
        entry = get_model_entry(name)
        assert entry.noise == family_noise(entry.family)
        assert model_noise(entry.family) == entry.noise.description
        assert MODEL_NOISE[entry.family] == entry.noise.description
    assert get_model_entry("vgg16").noise.option == "dropout"
    assert get_model_entry("perceptron").noise.option is None
    assert "input noise only" in MODEL_NOISE["baseline"]
    with pytest.raises(KeyError):
        MODEL_NOISE["x"]
