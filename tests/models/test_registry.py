import inspect
import re

import keras
import pytest

import kzoo
from kzoo.models import (
    NO_MODEL_NOISE,
    ModelNoise,
    create_model,
    family_noise,
    get_model_entry,
    list_families,
    list_models,
    register_model,
    vgg,
)

EXPECTED = {
    "alexnet", "lenet5", "perceptron", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
    "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "mobilenet_v3_small",
    "mobilenet_v3_large", "efficientnet_v2_b0", "resnet50_v2", "convnext_tiny",
}


def test_list_models_and_pattern():
    assert set(list_models()) == EXPECTED
    assert list_models("vgg1?_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
    assert kzoo.list_models() == list_models()


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="lenet5.*Received: name='lenet6'"):
        create_model("lenet6")


def test_default_input_shape_is_used():
    model = create_model("lenet5", num_classes=10)
    assert model.input_shape == (None, 32, 32, 1)
    assert get_model_entry("vgg16").default_input_shape == (224, 224, 3)
    assert get_model_entry("alexnet").default_input_shape == (227, 227, 3)


def test_builders_are_importable_and_equal_registry():
    a = kzoo.models.vgg11_bn(num_classes=3, input_shape=(32, 32, 3), width=0.125)
    b = create_model("vgg11_bn", num_classes=3, input_shape=(32, 32, 3), width=0.125)
    assert a.count_params() == b.count_params()
    assert [w.shape for w in a.weights] == [w.shape for w in b.weights]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"pooling": "mean"}, "pooling"),
        ({"num_classes": 0}, "num_classes"),
        ({"width": 0}, "width"),
        ({"input_shape": (32, 32)}, "input_shape"),
    ],
)
def test_invalid_arguments_have_clear_errors(kwargs, match):
    kwargs = {"num_classes": 10, "input_shape": (32, 32, 3), **kwargs}
    with pytest.raises(ValueError, match=f"{match}.*Received"):
        create_model("vgg11", **kwargs)


# A valid value other than the default for every option a builder may take
# (`pooling`: the first of these that is not the builder's default).
NON_DEFAULT = {
    "include_top": False,
    "pooling": ("avg", "max"),
    "width": 0.25,
    "dropout": 0.25,
    "activation": "tanh",
    "normalization": "batchnorm",
    "groups": 2,
    "include_preprocessing": False,
    "preprocessing": "caffe",
    "classifier_activation": "softmax",
    "name": "custom",
}
TINY = {"lenet5": (16, 16, 1), "perceptron": (8, 8, 1), "alexnet": (67, 67, 3)}


def _signature_options(name):
    """The builder's own keyword parameters (VGG variants pass theirs on to
    `_vgg`, which takes the variant first; the applications declare theirs
    in their signature and refuse any other, see test_applications)."""
    builder = get_model_entry(name).builder
    params = inspect.signature(builder).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        params = inspect.signature(vgg._vgg).parameters
    skip = {"num_classes", "input_shape", "cfg_name", "batch_norm"}
    return {k: p.default for k, p in params.items() if k not in skip}


def _tiny(name, /, **options):
    entry = get_model_entry(name)
    base = {"width": 0.125} if entry.accepts("width") else {}
    return create_model(
        name, num_classes=3, input_shape=TINY.get(name, (32, 32, 3)),
        **{**base, **options},
    )


@pytest.mark.parametrize("name", list_models())
def test_declared_options_are_exactly_what_the_builder_takes(name):
    entry = get_model_entry(name)
    assert dict(entry.options) == _signature_options(name)
    assert list(entry.options) == list(_signature_options(name))  # same order
    with pytest.raises(TypeError):
        entry.options["width"] = 2.0  # read-only


# The larger keras.applications backbones build in 5-7 s per option set: the
# large tier; MobileNetV3-Small stands for them in the default one.
LARGE_BUILDS = ("mobilenet_v3_large", "efficientnet_v2_b0", "resnet50_v2",
                "convnext_tiny")


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.large) if name in LARGE_BUILDS
    else name for name in list_models()])
def test_every_declared_option_builds_and_changes_the_model(name):
    entry = get_model_entry(name)
    base = _tiny(name).to_json()
    for option, default in entry.options.items():
        value = NON_DEFAULT[option]
        if isinstance(value, tuple):
            value = next(v for v in value if v != default)
        assert value != default, option
        model = _tiny(name, **{option: value})
        assert model.to_json() != base, f"{name}: {option}={value!r} had no effect"


def test_unknown_option_is_rejected_listing_the_valid_ones():
    valid = list(get_model_entry("lenet5").options)
    assert valid[:3] == ["include_top", "pooling", "width"]
    with pytest.raises(
        ValueError, match=re.escape(f"Expected one of {valid}. Received: foo=1")
    ):
        create_model("lenet5", foo=1)
    with pytest.raises(ValueError, match=r"'perceptron'.*Received: width=0\.5"):
        create_model("perceptron", width=0.5)
    with pytest.raises(ValueError, match="Received: foo=1, bar='x'"):
        get_model_entry("vgg11").check_options({"width": 1.0, "foo": 1, "bar": "x"})


@pytest.mark.parametrize("name", list_models())
def test_tunable_noise_and_feature_layer_are_among_the_options(name):
    entry = get_model_entry(name)
    assert set(entry.tunable) <= set(entry.options)
    assert all(entry.accepts(option) for option in entry.tunable)
    assert entry.noise.option is None or entry.accepts(entry.noise.option)
    assert entry.noise == family_noise(entry.family)
    assert entry.noise.description
    assert entry.feature_layer in entry.feature_layers.values()
    if entry.accepts("pooling"):
        assert set(entry.feature_layers) == {None, "flatten", "avg", "max"}


def test_what_a_run_may_tune():
    assert get_model_entry("vgg16_bn").tunable == ("width", "dropout")
    assert get_model_entry("lenet5").accepts("dropout")
    assert get_model_entry("perceptron").tunable == ()
    assert not get_model_entry("perceptron").accepts("width")


def test_noise_option_carries_the_noise():
    for name in ("lenet5", "alexnet", "vgg11"):
        option = get_model_entry(name).noise.option
        model = _tiny(name, **{option: 0.3})
        rates = [
            layer.rate
            for layer in model.layers
            if isinstance(layer, keras.layers.Dropout)
        ]
        assert rates == [0.3, 0.3], name
    assert get_model_entry("perceptron").noise.option is None
    assert family_noise("unknown") == NO_MODEL_NOISE
    assert set(list_families()) == {
        "alexnet", "baseline", "lenet", "vgg", "mobilenet_v3", "efficientnet_v2",
        "resnet_v2", "convnext"}


def test_registration_checks_its_declarations():
    with pytest.raises(ValueError, match="tunable.*Received: \\['depth'\\]"):
        register_model(
            (8, 8, 1), "lenet", {"width": 1.0}, ModelNoise("none"),
            {None: "flatten"}, tunable=("depth",),
        )
    with pytest.raises(ValueError, match="feature_layers"):
        register_model(
            (8, 8, 1), "lenet", {"pooling": "avg"}, ModelNoise("none"),
            {None: "flatten"},
        )

    def lenet_other_noise(num_classes=1, input_shape=(8, 8, 1)):
        raise AssertionError("never built")

    decorator = register_model(
        (8, 8, 1), "lenet", {}, ModelNoise("other"), {None: "flatten"}
    )
    with pytest.raises(ValueError, match="Family 'lenet' is registered with"):
        decorator(lenet_other_noise)
    assert "lenet_other_noise" not in list_models()
