import pytest

import kzoo
from kzoo.models import create_model, get_model_entry, list_models

EXPECTED = {
    "alexnet", "lenet5", "perceptron", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
    "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
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
