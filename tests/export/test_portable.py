"""LiteRT and ONNX files: the same outputs as the Keras model, any batch.

Tolerances: both runtimes compute in float32 with their own kernels
(XNNPACK, MLAS) and the Keras model with TensorFlow's (oneDNN where the CPU
has it), so the sums are ordered differently; logits of these small models
differ by ~1e-6 here. The bound is relative to the logits' scale, 1e-4,
far above float32 reordering error and far below any real difference
(a dropped preprocessing step moves logits by their own size).
"""

import errno
import json
import os

import keras
import numpy as np
import pytest

from kzoo.errors import KzooError
from kzoo.export import card, portable
from kzoo.models import create_model

MODELS = {
    # LeNet-5: Rescaling; AlexNet: LRN and mean-RGB Normalization (whose
    # constants Keras's own ONNX export leaves as graph inputs); VGG-BN: BN.
    "lenet5": {"input_shape": (32, 32, 1)},
    "alexnet": {"input_shape": (67, 67, 3), "width": 0.25},
    "vgg11_bn": {"input_shape": (32, 32, 3), "width": 0.125},
}


def images(model, count=32, seed=0):
    shape = (count, *model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def assert_close(got, want):
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(scale, 1.0))


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {name: create_model(name, num_classes=10, **kw)
            for name, kw in MODELS.items()}


def run_litert(path, x):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    return runner(images=x)


def run_onnx(path, x):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"images": x})))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_litert_matches_the_keras_model_at_any_batch(models, name, tmp_path):
    pytest.importorskip("ai_edge_litert")
    model = models[name]
    path = portable.export_litert(model, str(tmp_path / "model.tflite"))
    for count in (32, 1, 5):
        x = images(model, count, seed=count)
        want = model.predict(x, verbose=0)
        got = run_litert(path, x)
        assert set(got) == {"logits", "probabilities"}
        assert got["logits"].shape == (count, 10)
        assert_close(got["logits"], want)
        assert_close(got["probabilities"], keras.ops.softmax(want).numpy())
        np.testing.assert_array_equal(got["logits"].argmax(-1), want.argmax(-1))
    assert os.listdir(tmp_path) == ["model.tflite"]  # no temporary file left


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_matches_the_keras_model_at_any_batch(models, name, tmp_path):
    pytest.importorskip("tf2onnx")
    model = models[name]
    path = portable.export_onnx(model, str(tmp_path / "model.onnx"))
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (only,) = session.get_inputs()
    assert only.name == "images" and only.type == "tensor(float)"
    assert only.shape[1:] == list(model.input_shape[1:])
    assert not isinstance(only.shape[0], int)  # the batch is dynamic
    for count in (32, 1, 5):
        x = images(model, count, seed=count)
        want = model.predict(x, verbose=0)
        got = run_onnx(path, x)
        assert_close(got["logits"], want)
        assert_close(got["probabilities"], keras.ops.softmax(want).numpy())


def test_a_mixed_precision_model_is_written_in_float32(tmp_path):
    pytest.importorskip("tf2onnx")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(1)
        model = create_model("lenet5", num_classes=10, input_shape=(32, 32, 1))
    finally:
        keras.config.set_dtype_policy(previous)
    copy = portable.float32_model(model)
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    for mine, theirs in zip(copy.weights, model.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    x = images(model, 8)
    got = run_onnx(portable.export_onnx(model, str(tmp_path / "m.onnx")), x)
    assert_close(got["logits"], copy.predict(x, verbose=0))
    # bfloat16 compute is ~3 significant digits: the same classes, roughly.
    bf16 = keras.ops.convert_to_numpy(model.predict(x, verbose=0)).astype("float32")
    assert np.max(np.abs(got["logits"] - bf16)) < 0.05 * np.max(np.abs(bf16)) + 0.05


def test_a_model_with_an_output_per_task_gets_outputs_per_task(tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tf2onnx")
    keras.utils.set_random_seed(2)
    inputs = keras.Input((16, 16, 1))
    features = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, {"old": keras.layers.Dense(3)(features),
                                 "new": keras.layers.Dense(2)(features)})
    x = images(model, 4)
    want = model.predict(x, verbose=0)
    keys = {"old_logits", "old_probabilities", "new_logits", "new_probabilities"}
    litert = portable.export_litert(model, str(tmp_path / "m.tflite"))
    onnx = portable.export_onnx(model, str(tmp_path / "m.onnx"))
    for got in (run_litert(litert, x), run_onnx(onnx, x)):
        assert set(got) == keys
        assert_close(got["old_logits"], want["old"])
        assert_close(got["new_logits"], want["new"])


def test_onnx_without_its_extra_says_what_to_install(monkeypatch, models, tmp_path):
    import importlib

    real = importlib.import_module

    def no_tf2onnx(name, *args):
        if name == "tf2onnx":
            raise ImportError("No module named 'tf2onnx'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_tf2onnx)
    # kzoo is installed from its clone, not from a package index: the
    # extra's own packages (from the installed metadata), and the clone's.
    with pytest.raises(KzooError) as refused:
        portable.export_onnx(models["lenet5"], str(tmp_path / "m.onnx"))
    assert str(refused.value) == (
        "ONNX export needs the 'tf2onnx' package, which cannot be imported (No "
        "module named 'tf2onnx'): pip install 'tf2onnx>=1.17' "
        "'onnxruntime>=1.20' (kzoo's 'onnx' extra; in a kzoo clone: pip "
        "install '.[onnx]')")
    assert not os.listdir(tmp_path)


def test_the_card_gives_each_format_its_input_contract(models, tmp_path):
    model = models["alexnet"]
    names = [str(i) for i in range(10)]
    out = str(tmp_path)
    written = {"keras": os.path.join(out, "model.keras"),
               "savedmodel": os.path.join(out, "1")}
    path = card.write_card(model, out, names, written)
    card.write_card(model, out, names, {"onnx": os.path.join(out, "model.onnx")})
    with open(path) as f:
        written_card = json.load(f)
    assert written_card["class_names"] == names
    formats = written_card["formats"]
    assert set(formats) == {"keras", "savedmodel", "onnx"}  # updated, not replaced
    onnx = formats["onnx"]
    assert onnx["path"] == "model.onnx"
    assert onnx["input"]["shape"] == [None, 67, 67, 3]
    assert onnx["input"]["dtype"] == "float32"
    assert onnx["input"]["value_range"] == [0, 255]
    assert onnx["input"]["channels"] == "RGB"
    assert onnx["outputs"]["probabilities"] == "float32 [N, 10] (softmax of the logits)"
    serving = formats["savedmodel"]["signatures"]
    assert serving["serving_default"]["input"]["dtype"] == "string"
    assert set(serving["serving_default"]["outputs"]) == {
        "logits", "probabilities", "class_ids", "classes"}


def test_a_full_disk_is_an_error_naming_the_file_and_leaves_nothing(
        monkeypatch, models, tmp_path):
    def half_export(model, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"TFL3 half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keras.Model, "export", half_export)
    path = str(tmp_path / "model.tflite")
    with pytest.raises(KzooError) as caught:
        portable.export_litert(models["lenet5"], path)
    assert str(caught.value).startswith(
        f"Cannot write {path}: No space left on device [ENOSPC]; nothing "
        "partial was left.")
    assert not os.listdir(tmp_path)
