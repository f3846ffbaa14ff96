"""What a run shows in TensorBoard besides `fit`'s epoch scalars: training
samples, the confusion matrix, hparams, Noisy Student's rounds (read back
from the event files)."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.plugins.hparams import metadata as hparams_metadata

from kzoo import run
from kzoo.run import inputs, tensorboard
from tests.run.helpers import SMOKE, SMOKE_FLAGS, kzoo, read_json, smoke_dir

SESSION_TAG = "_hparams_/session_start_info"


def summaries(folder):
    """`{tag: [(step, Summary.Value), ...]}` of the event files in `folder`."""
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value))
    return found


def image(value):
    """`(width, height, PNG bytes)` of an image summary, checked to decode."""
    assert value.metadata.plugin_data.plugin_name == "images"
    width, height, png = tf.make_ndarray(value.tensor)
    pixels = tf.io.decode_png(png)
    assert pixels.shape[:2] == (int(height), int(width))
    return int(width), int(height), png


def scalars(values):
    """`{step: value}` of a scalar tag."""
    return {step: float(tf.make_ndarray(v.tensor)) for step, v in values}


def hparams(folder):
    """The hparams of the session started in `folder` (name -> value)."""
    (_, value), = summaries(folder)[SESSION_TAG]
    info = hparams_metadata.parse_session_start_info_plugin_data(
        value.metadata.plugin_data.content)
    return {name: getattr(v, v.WhichOneof("kind")) for name, v in info.hparams.items()}


@pytest.mark.large
def test_a_train_run_shows_samples_confusion_matrix_and_hparams(tmp_path, capsys):
    code, _, err = kzoo(capsys, "train", *SMOKE_FLAGS, "--out", tmp_path / "run")
    assert code == 0, err
    out = smoke_dir(str(tmp_path / "run"))
    logs = os.path.join(out, "logs")
    assert set(os.listdir(logs)) >= {"run", "train", "validation"}
    shown = summaries(os.path.join(logs, "run"))
    assert set(shown) == {"training_samples", "confusion_matrix", "test_accuracy"}
    (step, matrix), = shown["confusion_matrix"]
    width, height, png = image(matrix)
    assert step == 0 and 200 <= width <= 2000 and 200 <= height <= 2000
    with open(os.path.join(out, "confusion_matrix.png"), "rb") as f:
        assert png == f.read()  # the plot of metrics.json's matrix
    (_, samples), = shown["training_samples"]
    width, height, _ = image(samples)
    assert width > height >= 100  # two rows of four
    assert samples.metadata.summary_description == (
        "digits: training images, no augmentation (--augment none)")
    metrics = read_json(out, "metrics.json")
    assert scalars(shown["test_accuracy"]) == {
        0: pytest.approx(metrics["test_accuracy"])}
    config = read_json(out, "config.json")
    values = hparams(logs)
    assert values["command"] == "train" and values["model"] == config["model"]
    assert values["epochs"] == config["epochs"] and values["smoke"] is True
    assert values["input_size"] == 32  # resolved, as config.json records it
    assert values["export"] == ",".join(config["export"])  # lists as strings
    assert "class_names" not in values and "data_dir" not in values  # fact, None


@pytest.mark.large
def test_noisy_student_rounds_are_scalars_over_rounds(folder, tmp_path):
    result = run.run("noisy-student", data=folder, input_size=16, rounds=2,
                     balance=True, val_fraction=0, threshold=0, labels_per_class=5,
                     noise="flip,crop",  # RandAugment's trace: 10 s more
                     out=str(tmp_path / "ns"), **SMOKE)
    report = read_json(result.out, "noisy_student.json")
    logs = os.path.join(result.out, "logs")
    assert not os.path.exists(os.path.join(logs, "rounds_no_noise"))  # no ablation
    shown = summaries(os.path.join(logs, "rounds"))
    rows = [report["supervised"]] + report["noised"]
    for key in ("test_accuracy", "pseudo_label_accuracy", "pseudo_labeled",
                "pseudo_examples"):
        expected = {r["round"]: pytest.approx(r[key]) for r in rows if key in r}
        assert scalars(shown[f"rounds/{key}"]) == expected, key
    assert sorted(scalars(shown["rounds/pseudo_labeled"])) == [1, 2]
    assert sorted(scalars(shown["rounds/test_accuracy"])) == [0, 1, 2]  # + teacher
    # no validation split: its scalars are left out, not logged as NaN
    assert "rounds/val_accuracy" not in shown
    assert "rounds/teacher_val_accuracy" not in shown
    titles = {}
    for phase in ("round0", "round1", "round2"):
        (_, samples), = summaries(
            os.path.join(result.out, phase, "logs", "run"))["training_samples"]
        titles[phase] = samples.metadata.summary_description
    assert titles["round0"].endswith("after --augment crop")  # the teacher's
    assert titles["round1"] == titles["round2"]
    assert titles["round1"].endswith("after --augment flip,crop")  # --noise
    values = hparams(logs)
    assert values["command"] == "noisy-student" and values["rounds"] == 2
    assert values["models"] == "lenet5:1.0" and values["ablate_noise"] is False


@pytest.mark.large
def test_pseudo_label_epochs_show_the_unlabelled_weight(folder, tmp_path):
    result = run.run("pseudo-label", data=folder, input_size=16, val_fraction=0,
                     labels_per_class=5, out=str(tmp_path / "pl"), **SMOKE)
    shown = summaries(os.path.join(result.out, "logs", "train"))
    # the schedule's value reaches the logs (it runs before them)
    assert {"epoch_mask_rate", "epoch_unlabeled_loss",
            "epoch_unlabeled_weight"} <= set(shown)
    # before t1, at the check's training step (--smoke: one check of 2 steps)
    assert scalars(shown["epoch_unlabeled_weight"]) == {2: 0.0}


def test_training_samples_show_the_policy_and_touch_nothing(tmp_path, capfd):
    config = run.configure("train", augment="crop,mixup", seed=3)
    data = inputs.load_training_data(config, 32)
    capfd.readouterr()
    for name in ("a", "b"):
        tensorboard.log_training_samples(str(tmp_path / name), data, config)
    tensorboard.log_training_samples(
        str(tmp_path / "plain"), data, config.replace(augment="none"))
    assert capfd.readouterr() == ("", "")  # nothing printed, no TF chatter
    shown = {name: summaries(str(tmp_path / name / "logs" / "run"))
             ["training_samples"][0][1] for name in ("a", "b", "plain")}
    assert shown["a"].metadata.summary_description == (
        "digits: training images after --augment crop,mixup")
    assert image(shown["a"])[2] == image(shown["b"])[2]  # same policy and seed
    assert image(shown["plain"])[2] != image(shown["a"])[2]


def test_grid_titles_mixed_labels_and_tiles_every_image():
    images = np.zeros((5, 8, 8, 3))
    labels = np.eye(3)[[0, 1, 2, 0, 1]]
    labels[0] = [0.6, 0.4, 0.0]
    png = tensorboard.grid_png(images, labels, ["a", "b", "c"], "t", columns=4)
    assert tf.io.decode_png(png).shape[-1] in (3, 4)
    assert tensorboard.hparam_values(
        {"export": ["savedmodel", "keras"], "weights": None, "lr": 0.1,
         "smoke": True, "extra": {"b": 1}}) == {
        "export": "savedmodel,keras", "lr": 0.1, "smoke": True,
        "extra": '{"b": 1}'}


def test_rounds_and_hparams_print_nothing(tmp_path, capfd):
    out = str(tmp_path)
    capfd.readouterr()
    tensorboard.log_round(out, dict(round=0, model="lenet5", val_accuracy=None,
                                    test_accuracy=0.5))
    tensorboard.log_round(out, dict(round=1, test_accuracy=0.75,
                                    pseudo_labeled=12), noised=False)
    tensorboard.log_hparams(out, run.configure("train", epochs=3), 0.5)
    assert capfd.readouterr() == ("", "")
    assert scalars(summaries(os.path.join(out, "logs", "rounds"))
                   ["rounds/test_accuracy"]) == {0: 0.5}
    assert set(summaries(os.path.join(out, "logs", "rounds_no_noise"))) == {
        "rounds/test_accuracy", "rounds/pseudo_labeled"}
    values = hparams(os.path.join(out, "logs"))  # no config.json: the config's
    assert values["epochs"] == 3 and values["command"] == "train"
