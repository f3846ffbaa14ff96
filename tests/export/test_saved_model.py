import base64
import json
import os
import socket
import stat
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.export import saved_model as export_module
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
from tests.data.frames_helpers import gif_with_frames
from tests.data.helpers import png_declaring


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


@pytest.mark.large
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


@pytest.mark.large
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


@pytest.mark.large
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


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _serve_error(version_dir, encoded):
    serve = load_serving_signature(version_dir)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        serve(images=tf.constant(encoded))
    return str(info.value)


def test_serving_refuses_an_image_over_the_pixel_limit_by_index(trained, tmp_path):
    _, _, _, version_dir = trained
    files, _ = _sample_files(str(tmp_path))
    good = [_read(f) for f in files[:2]]
    message = _serve_error(version_dir, good + [png_declaring(23000, 23000)])
    assert ("image 2 of the batch declares 23000x23000 pixels (height x width), "
            "over the limit of 64000000 pixels") in message


def test_serving_names_the_index_of_an_image_that_does_not_decode(trained, tmp_path):
    _, _, _, version_dir = trained
    files, _ = _sample_files(str(tmp_path))
    good = [_read(f) for f in files]
    truncated = good[0][: len(good[0]) // 2]
    for batch, index in [(good[:3] + [truncated] + good[3:], 3),
                         ([b"not an image"] + good, 0),
                         ([truncated], 0)]:  # no image of the batch decodes
        message = _serve_error(version_dir, batch)
        assert (f"image {index} of the batch cannot be read or decoded as a JPEG, "
                "PNG, BMP, GIF or WebP image") in message


def _tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(2)])


def test_max_image_pixels_of_the_export(tmp_path):
    version_dir = export_saved_model(_tiny_model(), str(tmp_path / "m"), ["a", "b"],
                                     max_image_pixels=64)
    serve = load_serving_signature(version_dir)
    small, large = (image_ops.encode_png(np.zeros((n, 8, 1), np.uint8)).numpy()
                    for n in (8, 9))
    assert serve(images=tf.constant([small, small]))["logits"].shape == (2, 2)
    assert "image 1 of the batch declares 9x8 pixels" in _serve_error(
        version_dir, [small, large])
    with pytest.raises(ValueError, match="Received: max_image_pixels=-1"):
        export_saved_model(_tiny_model(), str(tmp_path / "m"), ["a", "b"],
                           max_image_pixels=-1)


@pytest.mark.large
def test_serving_holds_the_pixel_limit_for_a_gif_frame_and_decodes_one(tmp_path):
    version_dir = export_saved_model(_tiny_model(), str(tmp_path / "m"), ["a", "b"],
                                     max_image_pixels=64)
    serve = load_serving_signature(version_dir)
    small = image_ops.encode_png(np.zeros((8, 8, 1), np.uint8)).numpy()
    lying = gif_with_frames((1, 1), [(0, 0, 8, 9)])  # a 1x1 screen, a 9x8 frame
    assert "image 1 of the batch declares 9x8 pixels" in _serve_error(
        version_dir, [small, lying])
    # 300 frames: the first alone is decoded; its data cut short: refused
    frames = gif_with_frames((8, 8), [(0, 0, 8, 8)] * 300)
    out = serve(images=tf.constant([frames, small]))
    np.testing.assert_allclose(out["logits"][0], _tiny_model()(
        np.full((1, 8, 8, 1), 76.0, np.float32))[0], atol=1e-4)  # luma of red
    assert ("image 0 of the batch cannot be read or decoded" in _serve_error(
        version_dir, [frames[:40], small]))


def test_version_folder_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        version_dir = export_saved_model(_tiny_model(), str(tmp_path / "m"), ["a", "b"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(version_dir).st_mode) == 0o755
    for dirpath, dirnames, filenames in os.walk(version_dir):
        for name in dirnames:  # others may list and enter every folder
            assert os.stat(os.path.join(dirpath, name)).st_mode & 0o005 == 0o005
        for name in filenames:  # and read every file
            assert os.stat(os.path.join(dirpath, name)).st_mode & 0o004 == 0o004
    assert os.path.isfile(os.path.join(version_dir, "assets.extra", "model.keras"))


@pytest.mark.large
def test_concurrent_exports_claim_distinct_versions(tmp_path):
    base = str(tmp_path / "m")
    models = [_tiny_model(seed) for seed in range(2)]
    start = threading.Barrier(len(models))
    results, errors = [], []

    def export_twice(model):
        start.wait()
        for _ in range(2):
            try:
                results.append(export_saved_model(model, base, ["a", "b"]))
            except Exception as err:  # noqa: BLE001 - reported below
                errors.append(err)

    threads = [threading.Thread(target=export_twice, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert sorted(int(os.path.basename(r)) for r in results) == [1, 2, 3, 4]
    assert sorted(os.listdir(base), key=int) == ["1", "2", "3", "4"]


def test_a_stale_version_number_moves_on_and_replaces_nothing(tmp_path, monkeypatch):
    base = str(tmp_path / "m")
    first = export_saved_model(_tiny_model(), base, ["a", "b"])
    os.mkdir(os.path.join(base, "2"))  # an empty folder someone made
    monkeypatch.setattr(export_module, "next_version", lambda base_dir: 1)
    third = export_saved_model(_tiny_model(), base, ["a", "b"])
    assert os.path.basename(third) == "3"
    assert os.listdir(os.path.join(base, "2")) == []
    assert os.path.isfile(os.path.join(first, "saved_model.pb"))
    with pytest.raises(FileExistsError, match="already exists"):
        export_saved_model(_tiny_model(), base, ["a", "b"], version=2)
    assert sorted(os.listdir(base)) == ["1", "2", "3"]


def test_a_version_taken_just_before_the_rename_is_not_replaced(tmp_path, monkeypatch):
    base = str(tmp_path / "m")
    taken = os.path.join(base, "1")
    real_rename = os.rename

    def competitor_first(src, dst):  # another export wins "1" in the last instant
        if dst == taken and not os.path.exists(taken):
            os.makedirs(os.path.join(taken, "variables"))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", competitor_first)
    version_dir = export_saved_model(_tiny_model(), base, ["a", "b"])
    assert version_dir == os.path.join(base, "2")
    assert os.listdir(taken) == ["variables"]
    assert sorted(os.listdir(base)) == ["1", "2"]


KILLED_MID_EXPORT = """
import os, signal, sys
import keras
from kzoo.export import export_saved_model

def killed(src, dst):  # written out whole, killed before it is published
    open(os.path.join(src, "half-written"), "w").write("x")
    os.kill(os.getpid(), signal.SIGKILL)

os.rename = killed
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(2)])
export_saved_model(model, sys.argv[1], ["a", "b"])
"""


@pytest.mark.large
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pids are POSIX")
def test_the_folder_of_an_export_killed_mid_write_goes_at_the_next_export(tmp_path):
    base = str(tmp_path / "m")
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_EXPORT, base],
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    (stale,) = os.listdir(base)
    assert stale.startswith(".tmp-")
    assert "half-written" in os.listdir(os.path.join(base, stale))
    host, hex32 = socket.gethostname(), "0" * 32
    dead = stale[len(f".tmp-{host}-"):].split("-")[0]  # the killed process
    # what is not a dead local export's stays: a live process's (this one's),
    # another machine's, and names kzoo does not make
    kept = [f".tmp-{host}-{os.getpid()}-{hex32}", f".tmp-elsewhere-{dead}-{hex32}",
            f".tmp-{hex32}", ".tmp-notes"]
    for name in kept:
        os.mkdir(os.path.join(base, name))
    version_dir = export_saved_model(_tiny_model(), base, ["a", "b"])
    assert sorted(os.listdir(base)) == sorted(kept + [os.path.basename(version_dir)])
