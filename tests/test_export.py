import base64
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import batched, load_data
from kzoo.data import images as image_ops
from kzoo.export import (
    SERVING_TENSORS,
    export_saved_model,
    load_serving_signature,
    next_version,
)
from kzoo.models import create_model
from kzoo.testing import make_image_folder, rest_request_to_inputs, write_image


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained to separate three generated classes, exported."""
    root = make_image_folder(str(tmp_path_factory.mktemp("data") / "ds"),
                             per_class=12, size=16)
    data = load_data(root, image_size=(16, 16), val_fraction=0)
    keras.utils.set_random_seed(0)
    model = create_model("lenet5", num_classes=3, input_shape=(16, 16, 3))
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(batched(data.train, 8, training=True, seed=0), epochs=25, verbose=0)
    base = str(tmp_path_factory.mktemp("export") / "model")
    version_dir = export_saved_model(model, base, data.class_names)
    return model, data, base, version_dir


def _sample_files(directory):
    """Images of each class in several formats, sizes and channel counts."""
    from kzoo.testing.images import class_pattern

    rng = np.random.default_rng(7)
    files, labels = [], []
    specs = [("png", 16, 3), ("jpg", 24, 3), ("bmp", 16, 3), ("gif", 16, 3),
             ("png", 16, 1), ("png", 20, 4)]
    for i, (fmt, size, channels) in enumerate(specs):
        label = i % 3
        pixels = class_pattern(label, size, rng, channels=3)
        if channels == 1:
            pixels = pixels[..., :1]
        elif channels == 4:
            pixels = np.concatenate([pixels, np.full_like(pixels[..., :1], 255)], -1)
        path = os.path.join(directory, f"{i}.{fmt}")
        write_image(path, pixels)
        files.append(path)
        labels.append(label)
    return files, labels


def _keras_probabilities(model, encoded):
    batch = tf.stack([image_ops.decode_to_model_input(e, (16, 16), 3) for e in encoded])
    return np.asarray(keras.ops.softmax(model(batch, training=False)))


def test_serving_default_equals_keras_and_names_right_classes(trained, tmp_path):
    model, data, _, version_dir = trained
    files, labels = _sample_files(str(tmp_path))
    encoded = [open(f, "rb").read() for f in files]
    out = load_serving_signature(version_dir)(images=tf.constant(encoded))
    np.testing.assert_allclose(out["probabilities"].numpy(),
                               _keras_probabilities(model, encoded), atol=1e-5)
    assert out["probabilities"].dtype == tf.float32
    assert out["class_ids"].numpy().tolist() == labels
    assert [c.decode() for c in out["classes"].numpy()] == [
        data.class_names[i] for i in labels]


def test_tensor_signature_accepts_any_size_and_channels(trained):
    model, _, _, version_dir = trained
    serve = load_serving_signature(version_dir, SERVING_TENSORS)
    gray = np.random.default_rng(0).uniform(0, 255, (2, 20, 20, 1)).astype("float32")
    got = serve(images=tf.constant(gray))["probabilities"].numpy()
    want = keras.ops.softmax(model(image_ops.to_model_input(gray, (16, 16), 3)))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_reload_in_fresh_process(trained, tmp_path):
    model, _, _, version_dir = trained
    files, _ = _sample_files(str(tmp_path))
    script = (
        "import json, sys, tensorflow as tf\n"
        "sig = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "imgs = tf.constant([open(f, 'rb').read() for f in sys.argv[2:]])\n"
        "print(json.dumps(sig(images=imgs)['probabilities'].numpy().tolist()))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script, version_dir, *files],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    got = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    encoded = [open(f, "rb").read() for f in files]
    np.testing.assert_allclose(got, _keras_probabilities(model, encoded), atol=1e-5)


def test_saved_model_cli_runs_serving_default(trained, tmp_path):
    _, _, _, version_dir = trained
    files, labels = _sample_files(str(tmp_path))
    npy = str(tmp_path / "images.npy")
    np.save(npy, np.array([open(f, "rb").read() for f in files], dtype=object))
    outdir = str(tmp_path / "cli_out")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    cmd = [cli] if os.path.exists(cli) else [
        sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    result = subprocess.run(
        cmd + ["run", "--dir", version_dir, "--tag_set", "serve",
               "--signature_def", "serving_default", "--inputs", f"images={npy}",
               "--outdir", outdir],
        capture_output=True, text=True, timeout=180,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert np.load(os.path.join(outdir, "class_ids.npy")).tolist() == labels


def test_rest_bodies_row_and_columnar(trained, tmp_path):
    _, data, _, version_dir = trained
    files, labels = _sample_files(str(tmp_path))
    b64 = [base64.b64encode(open(f, "rb").read()).decode() for f in files]
    serve = load_serving_signature(version_dir)
    want = [data.class_names[i] for i in labels]
    bodies = [
        {"instances": [{"b64": s} for s in b64]},
        {"instances": [{"images": {"b64": s}} for s in b64]},
        {"inputs": [{"b64": s} for s in b64]},
        {"inputs": {"images": [{"b64": s} for s in b64]}},
    ]
    for body in bodies:
        body = json.loads(json.dumps(body))  # as it arrives over HTTP
        out = serve(**rest_request_to_inputs(body, serve))
        assert [c.decode() for c in out["classes"].numpy()] == want


def test_versions_increment_and_leave_no_temporary_folder(trained):
    model, data, base, _ = trained
    assert next_version(base) == 2
    second = export_saved_model(model, base, data.class_names)
    assert os.path.basename(second) == "2"
    assert sorted(os.listdir(base)) == ["1", "2"]
    with pytest.raises(FileExistsError):
        export_saved_model(model, base, data.class_names, version=1)
    with pytest.raises(ValueError, match="class names"):
        export_saved_model(model, base, ["only", "two"])


def test_signatures_return_logits_and_the_version_holds_the_keras_model(trained):
    model, data, _, version_dir = trained
    serve = load_serving_signature(version_dir, SERVING_TENSORS)
    x = next(iter(batched(data.test, 4)))[0]
    out = serve(images=x)
    np.testing.assert_allclose(out["logits"].numpy(), model(x), atol=1e-4)
    np.testing.assert_allclose(out["probabilities"].numpy(),
                               tf.nn.softmax(out["logits"]).numpy(), atol=1e-6)
    copy = keras.models.load_model(os.path.join(version_dir, "assets.extra",
                                                "model.keras"))
    np.testing.assert_allclose(copy(x), model(x), atol=1e-5)
