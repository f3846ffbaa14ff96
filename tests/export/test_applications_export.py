"""The keras.applications backbones as SavedModel, LiteRT and ONNX files:
the same outputs as the Keras model.

Their freshly initialised weights give near-constant logits (MobileNetV3's
are ~1e-10), against which any file would pass; so each model here is
calibrated first: BatchNorm statistics from a training-mode pass, random
BatchNorm scales and offsets and layer scales (ConvNeXt), the classifier
scaled to logits of about 10. The bound is then relative, 1e-4 of the
logits' scale, as in test_portable.py.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kzoo.errors import KzooError
from kzoo.export import portable
from kzoo.models import create_model
from kzoo.testing import assert_saved_model_parity
from tests.export.test_portable import images, run_litert, run_onnx
from tests.run.helpers import ROOT

# 32 px (the smallest they take); EfficientNetV2's float32 error at 32 px is
# 1.6e-4 of its logits in Keras itself (against float64), so it runs at 64.
SIZES = {"mobilenet_v3_small": 32, "mobilenet_v3_large": 32,
         "efficientnet_v2_b0": 64, "resnet50_v2": 32, "convnext_tiny": 32}
# 25-60 s each: the large tier. The default tier converts the op they
# need a rewrite for in a small model (test_grouped_depthwise_...).
NAMES = [pytest.param(name, marks=pytest.mark.large) for name in SIZES]


def calibrated(name, seed=0):
    keras.utils.set_random_seed(seed)
    size = SIZES[name]
    model = create_model(name, num_classes=10, input_shape=(size, size, 3))
    rng = np.random.default_rng(seed)
    x = images(model, 16, seed=seed)
    for variable in model.weights:
        path = variable.path
        if path.endswith(("/gamma", "/beta")) or "layer_scale" in path:
            low = 0.5 if path.endswith("gamma") or "layer_scale" in path else -0.2
            high = 1.5 if low == 0.5 else 0.2
            variable.assign(rng.uniform(low, high, variable.shape)
                            .astype("float32"))
    _set_batchnorm_statistics(model, x)
    logits = np.asarray(model(x, training=False))
    kernel = model.get_layer("predictions").kernel
    kernel.assign(np.asarray(kernel) * (10.0 / np.max(np.abs(logits))))
    return model


def _set_batchnorm_statistics(model, x):
    """Each BatchNorm's moving statistics := its batch statistics on `x`
    (momentum 0 for one training-mode pass)."""
    norms = [layer for layer in _layers(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    model(x, training=True)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum


def _layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def assert_relative(got, want):
    scale = float(np.max(np.abs(want)))
    assert scale > 1.0  # the calibration's logits, not a vacuous bound
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * scale)


def check_exports(name, folder):
    """SavedModel, LiteRT and ONNX files of the calibrated `name` against
    the Keras model, at batch 5 and 1."""
    model = calibrated(name)
    x = images(model, 5, seed=1)
    assert_saved_model_parity(model, x, os.path.join(folder, "saved"))
    lite = portable.export_litert(model, os.path.join(folder, "model.tflite"))
    onnx = portable.export_onnx(model, os.path.join(folder, "model.onnx"))
    for count in (5, 1):
        x = images(model, count, seed=count)
        want = model.predict(x, verbose=0)
        for got in (run_litert(lite, x), run_onnx(onnx, x)):
            assert got["logits"].shape == (count, 10)
            assert_relative(got["logits"], want)
            np.testing.assert_array_equal(got["logits"].argmax(-1),
                                          want.argmax(-1))


# In a process of its own: tf2onnx holds 6-7 GB converting ResNet50V2 or
# ConvNeXt-Tiny (a 90-110 MB graph), memory the test process would keep.
CHILD = (
    "import sys\n"
    "from tests.export.test_applications_export import check_exports\n"
    "check_exports(sys.argv[1], sys.argv[2])\n"
    "print('exports match')\n")


@pytest.mark.parametrize("name", NAMES)
def test_saved_model_litert_and_onnx_match_keras(name, tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tf2onnx")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, name, str(tmp_path)], cwd=ROOT,
        capture_output=True, text=True, timeout=900, check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("exports match")


def _grouped_gelu_model():
    """ConvNeXt's two ops tf2onnx cannot take as TensorFlow writes them: a
    depthwise convolution as `Conv2D(groups=channels)` and exact GELU
    (`Erfc`)."""
    keras.utils.set_random_seed(0)
    images_in = keras.Input((16, 16, 3), name="images")
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(images_in)
    x = keras.layers.Conv2D(8, 7, padding="same", groups=8, name="dw")(x)
    x = keras.layers.Activation(
        lambda t: keras.activations.gelu(t, approximate=False), name="gelu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(images_in, keras.layers.Dense(4, name="predictions")(x))


def test_grouped_depthwise_and_exact_gelu_convert_to_onnx(tmp_path):
    pytest.importorskip("tf2onnx")
    model = _grouped_gelu_model()
    path = portable.export_onnx(model, str(tmp_path / "model.onnx"))
    x = images(model, 3)
    got = run_onnx(path, x)["logits"]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=0,
                               atol=1e-4 * float(np.max(np.abs(got))))
    assert model.get_layer("dw").__class__ is keras.layers.Conv2D  # untouched


def test_an_op_onnx_lacks_is_an_error_and_no_file(tmp_path, monkeypatch):
    pytest.importorskip("tf2onnx")
    monkeypatch.setattr(portable, "plain_depthwise", lambda model: model)
    with pytest.raises(KzooError, match="ONNX conversion left TensorFlow ops "
                       "that ONNX does not define.*StatefulPartitionedCall"):
        portable.export_onnx(_grouped_gelu_model(), str(tmp_path / "m.onnx"))
    assert os.listdir(tmp_path) == []
