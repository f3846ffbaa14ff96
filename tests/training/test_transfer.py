import keras
import numpy as np
import pytest

from kzoo.errors import KzooError
from kzoo.export import export_saved_model
from kzoo.models import create_model, get_model_entry, list_models
from kzoo.models.applications import output_of
from kzoo.training import finetune_optimizer, transfer_model
from kzoo.training.transfer import backbone_layers, features_of
from tests.models.helpers import images_for, small_model
from tests.training.helpers import dataset, images_and_labels, max_difference


def _source():
    keras.utils.set_random_seed(3)
    return create_model(
        "vgg11_bn", num_classes=4, input_shape=(16, 16, 1), width=0.0625, dropout=0.0
    )


def _weights(layers):
    return [w.copy() for layer in layers for w in layer.get_weights()]


def _fit(model, optimizer="adam", epochs=1):
    x, y = images_and_labels(n=24, num_classes=3)
    model.compile(
        optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(dataset(x, y, batch_size=8), epochs=epochs, verbose=0)


def test_head_mode_trains_the_new_head_only_and_keeps_batchnorm_statistics():
    source = _source()
    source_weights = [w.copy() for w in source.get_weights()]
    model = transfer_model(source, num_classes=3, mode="head")
    assert model.output_shape == (None, 3)
    backbone = backbone_layers(model)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in backbone)
    before = _weights(backbone)  # includes the BN moving mean and variance
    head_before = _weights([model.get_layer("predictions")])
    _fit(model)
    assert max_difference(before, _weights(backbone)) == 0.0
    assert (
        max_difference(head_before, _weights([model.get_layer("predictions")])) > 1e-4
    )
    # the source model is a copy's origin, never modified
    assert max_difference(source_weights, source.get_weights()) == 0.0


def test_finetune_mode_trains_everything_backbone_slower():
    source = _source()
    model = transfer_model(source, num_classes=3, mode="finetune")
    np.testing.assert_array_equal(
        model.get_layer("backbone").get_layer("block1_conv1").get_weights()[0],
        source.get_layer("block1_conv1").get_weights()[0],
    )
    before = _weights(backbone_layers(model))
    optimizer = finetune_optimizer(keras.optimizers.SGD(0.05), model, 0.1)
    _fit(model, optimizer)
    assert max_difference(before, _weights(backbone_layers(model))) > 0
    group = optimizer.group_optimizer(next(iter(optimizer.multipliers)))
    assert float(group.learning_rate) == pytest.approx(0.005)
    # every backbone variable is in the slow group, none of the head's
    assert int(group.iterations) == 3 and len(group._trainable_variables) == len(
        [v for layer in backbone_layers(model) for v in layer.trainable_weights]
    )


def test_scratch_mode_is_the_same_architecture_freshly_initialised():
    source = _source()
    model = transfer_model(source, num_classes=3, mode="scratch")
    names = [layer.name for layer in backbone_layers(model)]
    assert names == [layer.name for layer in source.layers[1 : len(names) + 1]]
    assert names[-1] == "flatten"  # the default cut: before the FC classifier
    assert (
        max_difference(
            _weights(backbone_layers(model)),
            _weights(source.layers[1 : len(names) + 1]),
        )
        > 1e-3
    )


def test_sources_from_files_and_exports_and_feature_layer(tmp_path):
    source = _source()
    x, _ = images_and_labels(n=4)
    source.save(str(tmp_path / "s.keras"))
    version = export_saved_model(source, str(tmp_path / "export"), list("abcd"))
    features = keras.Model(source.input, source.get_layer("flatten").output)(x)
    for path in (str(tmp_path / "s.keras"), version):
        model = transfer_model(path, num_classes=2, mode="head")
        cut = keras.Model(model.input, model.get_layer("predictions").input)
        np.testing.assert_allclose(np.asarray(cut(x)), np.asarray(features), atol=1e-4)
    pooled = transfer_model(source, 2, feature_layer="flatten", dropout=0.5)
    default = transfer_model(source, 2)
    assert (
        default.get_layer("backbone").output.shape
        == pooled.get_layer("backbone").output.shape
    )
    assert "fc1" not in [layer.name for layer in backbone_layers(pooled)]
    assert pooled.get_layer("head_dropout").rate == 0.5


@pytest.mark.large
def test_clear_errors(tmp_path):
    source = _source()
    with pytest.raises(KzooError, match="mode"):
        transfer_model(source, 2, mode="frozen")
    with pytest.raises(KzooError, match="no layer 'fc9'"):
        transfer_model(source, 2, feature_layer="fc9")
    bare = export_saved_model(
        source, str(tmp_path / "b"), list("abcd"), include_keras_model=False
    )
    with pytest.raises(KzooError, match="Keras layers"):
        transfer_model(bare, 2)
    with pytest.raises(KzooError, match="SavedModel folder"):
        transfer_model(str(tmp_path / "missing"), 2)


@pytest.mark.parametrize("name", list_models())
def test_features_end_where_the_registry_entry_says(name):
    entry = get_model_entry(name)
    model = small_model(name)
    layer = model.get_layer(entry.feature_layer)
    output = output_of(layer)  # a nested backbone's: where the model calls it
    assert len(output.shape) == 2  # a feature vector per image
    assert features_of(model) is output
    transfer = transfer_model(model, num_classes=2, mode="head")
    assert backbone_layers(transfer)[-1].name == entry.feature_layer
    x = images_for(model)
    cut = keras.Model(transfer.input, transfer.get_layer("predictions").input)
    expected = keras.Model(model.input, output)(x)
    np.testing.assert_allclose(np.asarray(cut(x)), np.asarray(expected), atol=1e-5)


def test_features_follow_the_pooling_option_and_unregistered_models():
    pooled = small_model("vgg11", pooling="max")
    assert features_of(pooled) is pooled.get_layer("max_pool").output
    trunk = small_model("lenet5", include_top=False)  # the model is all features
    assert features_of(trunk) is trunk.output
    renamed = small_model("lenet5", name="mine")  # not an entry: before the last
    assert features_of(renamed) is renamed.get_layer("predictions").input
    assert features_of(renamed, "flatten") is renamed.get_layer("flatten").output
    lenet = small_model("lenet5")
    assert features_of(lenet, cut="last") is lenet.get_layer("predictions").input


def test_finetune_puts_a_nested_keras_applications_backbone_in_the_slow_group():
    keras.utils.set_random_seed(0)
    source = create_model("mobilenet_v3_small", include_top=False,
                          input_shape=(32, 32, 3), width=0.25)
    model = transfer_model(source, num_classes=3, mode="finetune")
    optimizer = finetune_optimizer(keras.optimizers.SGD(0.05), model, 0.1)
    x = images_for(model, n=8)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    model.fit(x, np.arange(8) % 3, batch_size=8, epochs=1, verbose=0)
    group = optimizer.group_optimizer(next(iter(optimizer.multipliers)))
    backbone = model.get_layer("backbone").trainable_weights
    assert len(backbone) > 50
    assert {id(v) for v in group._trainable_variables} == {id(v) for v in backbone}
