"""The keras.applications backbones: built as Keras builds them, their
ImageNet files loaded offline from a pre-seeded cache (files written from
keras.applications models with perturbed random weights, hashes patched),
equal to keras.applications with its own `preprocess_input`."""

import inspect
import sys

import keras
import numpy as np
import pytest

from kzoo.errors import KzooError
from kzoo.models import (
    create_model,
    get_model_entry,
    initial_weights,
    pretrained,
    resnet50_v2,
)
from kzoo.models.applications import APPLICATIONS
from tests.models.helpers import (
    assert_close_to_scale,
    cache_fake_file,
    images_for,
    offline_keras_cache,
    small_model,
    write_applications_file,
)

SHAPE = (32, 32, 3)
# The three large backbones (24-112 MB files, 6-28M parameters) in the large
# tier; MobileNetV3 in the default one.
LARGE = ("efficientnet_v2_b0", "resnet50_v2", "convnext_tiny")
NAMES = [name if name not in LARGE else pytest.param(name, marks=pytest.mark.large)
         for name in APPLICATIONS]


def _constructor(name):
    return getattr(keras.applications, APPLICATIONS[name].constructor)


def _keras_module(name):
    return sys.modules[_constructor(name).__module__]


def _perturbed(model, seed=3):
    """`model` with every weight moved off its initial value (BatchNorm
    statistics and ConvNeXt's 1e-6 layer scales included), so that a
    weight loaded into the wrong layer shows."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = np.asarray(variable)
        spread = float(np.std(value)) or 0.1
        new = value + rng.normal(0.0, 0.2 * spread, value.shape)
        if "variance" in variable.path:
            new = np.abs(new) + 0.1
        variable.assign(new.astype(value.dtype))
    return model


@pytest.fixture(scope="module")
def fake_files(tmp_path_factory):
    """name -> a fake no-top ImageNet file of `name`'s keras.applications
    network (its own preprocessing included, as Keras builds it)."""
    root = tmp_path_factory.mktemp("applications")
    made = {}

    def make(name):
        if name not in made:
            keras.utils.set_random_seed(1)
            network = _perturbed(_constructor(name)(
                include_top=False, weights=None, input_shape=SHAPE))
            made[name] = write_applications_file(network, root / f"{name}.h5")
        return made[name]

    return make


@pytest.fixture
def cache(tmp_path, monkeypatch, fake_files):
    """An offline Keras cache; `cache(name)` seeds `name`'s no-top file."""
    home = tmp_path / "keras_home"
    offline_keras_cache(monkeypatch, home)

    def put(name):
        source = fake_files(name)
        return cache_fake_file(monkeypatch, home, name, False, source), source

    return put


def test_table_rows_are_keras_applications_own():
    for name in APPLICATIONS:
        module = _keras_module(name)
        source = inspect.getsource(module)
        if name == "resnet50_v2":  # its files and hashes live in resnet.py
            module = sys.modules["keras.src.applications.resnet"]
            source = inspect.getsource(module)
        file = pretrained.PRETRAINED[(name, False)]
        base = getattr(module, "BASE_WEIGHTS_PATH", None) or module.BASE_WEIGHT_PATH
        assert file.origin == base + file.fname
        assert f'"{file.file_hash}"' in source, name
        assert (name, True) not in pretrained.PRETRAINED
    assert set(APPLICATIONS) < set(pretrained.pretrained_models())


@pytest.mark.parametrize("name", NAMES)
def test_imagenet_equals_keras_applications_on_raw_pixels(name, cache):
    path, source = cache(name)
    model = create_model(name, input_shape=SHAPE, include_top=False,
                         weights="imagenet")
    reference = _constructor(name)(weights=source, include_top=False,
                                   input_shape=SHAPE, pooling="avg")
    x = images_for(model, n=3, seed=2)
    want = reference(_keras_module(name).preprocess_input(x.copy()))
    assert_close_to_scale(model(x), want)
    assert pretrained.imagenet_weights_path(name, include_top=False) == path


def test_imagenet_with_a_new_classifier_and_initial_weights(cache):
    _, source = cache("mobilenet_v3_small")
    built = create_model("mobilenet_v3_small", num_classes=4, input_shape=SHAPE,
                         weights="imagenet")
    later = initial_weights(create_model("mobilenet_v3_small", num_classes=4,
                                         input_shape=SHAPE), "imagenet")
    from_file = initial_weights(create_model("mobilenet_v3_small", num_classes=4,
                                             input_shape=SHAPE), source)
    reference = keras.applications.MobileNetV3Small(
        weights=source, include_top=False, input_shape=SHAPE, pooling="avg")
    x = images_for(built, n=2)
    want = reference(x)  # MobileNetV3's preprocess_input is the identity
    for model in (built, later, from_file):
        assert model.output_shape == (None, 4)
        pixels = model.get_layer("preprocessing")(x)
        assert_close_to_scale(model.get_layer("backbone")(pixels), want)


def test_imagenet_refuses_what_its_file_cannot_take(cache):
    cache("mobilenet_v3_small")
    with pytest.raises(KzooError, match=r"RGB images \(3 channels\).*channels=1"):
        create_model("mobilenet_v3_small", input_shape=(32, 32, 1),
                     weights="imagenet")
    with pytest.raises(KzooError, match="width=1.0.*Received: width=0.5"):
        create_model("mobilenet_v3_small", input_shape=SHAPE, width=0.5,
                     weights="imagenet")
    bare = create_model("mobilenet_v3_small", input_shape=SHAPE,
                        include_preprocessing=False)
    with pytest.raises(KzooError, match="tf input convention.*"
                       "include_preprocessing=True"):
        initial_weights(bare, "imagenet")


def test_a_file_of_another_network_is_refused_clearly(tmp_path, fake_files):
    model = create_model("mobilenet_v3_large", input_shape=SHAPE)
    with pytest.raises(KzooError, match="does not fit the backbone of "
                       "'mobilenet_v3_large'.*Received: filepath="):
        initial_weights(model, fake_files("mobilenet_v3_small"))


def test_offline_without_the_file_names_it_and_where_it_goes(tmp_path,
                                                             monkeypatch):
    offline_keras_cache(monkeypatch, tmp_path / "home")
    file = pretrained.PRETRAINED[("convnext_tiny", False)]
    with pytest.raises(KzooError, match=(
            f"Could not download the ImageNet weights of convnext_tiny from "
            f"{file.origin}.*copy the file to .*home/models/{file.fname}")):
        create_model("convnext_tiny", input_shape=SHAPE, weights="imagenet")


@pytest.mark.parametrize("name", NAMES)
def test_parameters_equal_keras_applications(name):
    keras_net = _constructor(name)(include_top=False, weights=None,
                                   input_shape=SHAPE, pooling="avg")
    features = create_model(name, input_shape=SHAPE, include_top=False)
    assert features.count_params() == keras_net.count_params()
    assert features.output_shape == keras_net.output_shape
    top = create_model(name, num_classes=7, input_shape=SHAPE)
    dim = keras_net.output_shape[-1]
    assert top.count_params() == keras_net.count_params() + (dim + 1) * 7


# 14-19 s each: the large tier (tests/models/test_builders.py checks every
# gradient in the default one).
@pytest.mark.large
@pytest.mark.parametrize("name", list(APPLICATIONS))
def test_one_training_step(name):
    """One Adam step moves the classifier and the backbone's first and last
    weights (ConvNeXt's block LayerNorms get gradients scaled by its 1e-6
    layer scales: too small to move a float32 1.0 in one step)."""
    model = small_model(name, num_classes=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    weights = model.trainable_weights
    before = [np.array(w) for w in weights]
    loss = model.train_on_batch(images_for(model), np.array([0, 1, 2, 1]))
    assert np.isfinite(loss)
    moved = [not np.array_equal(b, np.asarray(w)) for b, w in zip(before, weights)]
    backbone = {id(w) for w in model.get_layer("backbone").trainable_weights}
    inside = [m for w, m in zip(weights, moved) if id(w) in backbone]
    assert inside[0] and inside[-1] and moved[-1] and moved[-2]
    assert sum(moved) >= 0.8 * len(moved), sum(moved) / len(moved)


def test_features_pooling_preprocessing_and_noise():
    entry = get_model_entry("mobilenet_v3_small")
    kw = dict(input_shape=SHAPE, width=0.25)
    avg = create_model("mobilenet_v3_small", num_classes=3, **kw)
    assert entry.feature_layer_of(avg) == "backbone"
    assert avg.get_layer("backbone").output.shape == (None, 144)
    flat = create_model("mobilenet_v3_small", num_classes=3, pooling="flatten", **kw)
    assert entry.feature_layer_of(flat) == "flatten"
    fmap = create_model("mobilenet_v3_small", include_top=False, pooling=None, **kw)
    assert fmap.output_shape == (None, 1, 1, 144)
    assert avg.get_layer("preprocessing").__class__.__name__ == "Rescaling"
    convnext = create_model("convnext_tiny", num_classes=3, input_shape=SHAPE,
                            dropout=0.3)
    assert type(convnext.get_layer("preprocessing")).__name__ == "Normalization"
    assert convnext.get_layer("top_dropout").rate == 0.3
    grey = create_model("mobilenet_v3_small", num_classes=3,
                        input_shape=(32, 32, 1), width=0.25)
    assert grey(images_for(grey, 2)).shape == (2, 3)


def test_direct_calls_refuse_options_the_family_lacks():
    with pytest.raises(ValueError, match=r"Unknown option for model "
                       r"'resnet50_v2'.*Received: width=0.5"):
        resnet50_v2(num_classes=3, input_shape=SHAPE, width=0.5)
    with pytest.raises(ValueError, match="at least 32x32.*Received"):
        create_model("mobilenet_v3_small", num_classes=3, input_shape=(24, 24, 3))
    assert "width" not in get_model_entry("convnext_tiny").options
    assert get_model_entry("mobilenet_v3_large").tunable == ("width", "dropout")
