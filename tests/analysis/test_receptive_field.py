import pytest

from kzoo.analysis import format_table, layer_table
from kzoo.models import create_model


def _by_name(model):
    return {row.name: row for row in layer_table(model)}


@pytest.mark.large
def test_vgg16_receptive_fields():
    rows = _by_name(create_model("vgg16", num_classes=1000))
    assert rows["block1_conv1"].receptive_field == 3
    assert rows["block1_conv2"].receptive_field == 5
    assert rows["block1_pool"].receptive_field == 6
    assert rows["block5_conv3"].receptive_field == 196
    assert rows["block5_pool"].receptive_field == 212
    assert rows["block5_pool"].jump == 32
    assert rows["fc1"].receptive_field is None


def test_lenet5_by_hand():
    # conv1: 5; pool1: 5 + (2-1)*1 = 6 (jump 2); conv2: 6 + 4*2 = 14;
    # pool2: 14 + 1*2 = 16 (jump 4).
    rows = _by_name(create_model("lenet5", num_classes=10))
    got = [(rows[n].receptive_field, rows[n].jump)
           for n in ("conv1", "pool1", "conv2", "pool2")]
    assert got == [(5, 1), (6, 2), (14, 2), (16, 4)]
    assert rows["conv1"].output_shape == (28, 28, 6)
    assert rows["pool2"].output_shape == (5, 5, 16)
    # MACs: 28*28*6 outputs x 5*5*1 taps; 10*10*16 x 5*5*6; 400*120.
    assert rows["conv1"].macs == 117_600
    assert rows["conv2"].macs == 240_000
    assert rows["fc1"].macs == 48_000
    assert sum(r.params for r in rows.values()) == 61_706


def test_alexnet_strided_first_layer_and_groups():
    rows = _by_name(create_model("alexnet", num_classes=1000, groups=2))
    assert rows["conv1"].receptive_field == 11 and rows["conv1"].jump == 4
    assert rows["pool1"].receptive_field == 19  # 11 + (3-1)*4
    assert rows["conv2"].receptive_field == 51  # 19 + (5-1)*8
    assert rows["conv1"].output_shape == (55, 55, 96)
    # grouped conv2: each output sees 48 of the 96 input channels
    assert rows["conv2"].macs == 27 * 27 * 256 * 5 * 5 * 48


@pytest.mark.parametrize("name", ["vgg11_bn", "perceptron"])
def test_params_match_keras_and_table_renders(name):
    model = create_model(name, num_classes=10, input_shape=(32, 32, 3), **(
        {"width": 0.125} if name != "perceptron" else {}))
    rows = layer_table(model)
    assert sum(r.params for r in rows) == model.count_params()
    text = format_table(rows)
    assert "total" in text and f"{model.count_params():,}" in text


def test_a_nested_network_is_listed_layer_by_layer():
    """A nested model with a residual op and a nested Sequential, by hand:
    stem 3x3 -> [a 3x3 stride 2; b = a + 3x3(a); Sequential(3x3)] -> dense
    on each position. Fields: 3; 3 + 2*1 = 5 (jump 2); 5 + 2*2 = 9, and the
    sum takes the wider; 9 + 2*2 = 13."""
    import keras

    conv = lambda name, s=1: keras.layers.Conv2D(  # noqa: E731
        4, 3, strides=s, padding="same", name=name)
    inner_in = keras.Input((8, 8, 4))
    a = conv("a", 2)(inner_in)
    b = a + conv("branch")(a)
    c = keras.Sequential([conv("seq_conv")], name="tail")(b)
    inner = keras.Model(inner_in, keras.layers.Dense(5, name="pointwise")(c),
                        name="backbone")
    images = keras.Input((8, 8, 3), name="images")
    x = inner(conv("stem")(images))
    outer = keras.Model(images, keras.layers.GlobalAveragePooling2D(
        name="pool")(x))
    rows = _by_name(outer)
    got = {n: (rows[n].receptive_field, rows[n].jump) for n in (
        "stem", "backbone/a", "backbone/branch", "backbone/tail/seq_conv",
        "backbone/pointwise")}
    assert got == {"stem": (3, 1), "backbone/a": (5, 2),
                   "backbone/branch": (9, 2), "backbone/tail/seq_conv": (13, 2),
                   "backbone/pointwise": (13, 2)}
    assert rows["pool"].receptive_field is None
    assert "backbone" not in rows  # its layers instead of one opaque row
    assert rows["backbone/pointwise"].macs == 4 * 4 * (4 * 5)  # per position
    assert sum(r.params for r in rows.values()) == outer.count_params()


def test_a_keras_applications_backbone_counts_its_cost():
    model = create_model("mobilenet_v3_small", num_classes=10,
                         input_shape=(64, 64, 3), width=0.25)
    rows = layer_table(model)
    assert sum(r.params for r in rows) == model.count_params()
    convs = [r for r in rows if r.name.startswith("backbone/") and r.macs]
    assert len(convs) > 40
    last = next(r for r in rows if r.name == "backbone/conv_1")
    assert last.jump == 32 and last.receptive_field > 64
