"""`kzoo fixmatch` end to end: the export is the weight average, a killed
run resumes to the same weights and state, 2 replicas equal 1 device, the
noisy-student teacher, and a short real run beats supervised training."""

import os

import keras
import numpy as np
import pytest

from kzoo import run
from kzoo.data import batched, load_data
from kzoo.run import finish, fitting
from kzoo.run import fixmatch as fm
from kzoo.run import noisy_student as ns
from kzoo.run.commands.fixmatch import FIXMATCH_STEPS
from tests.run.helpers import (
    RAW_FLOAT,
    SERVED,
    SMOKE,
    SMOKE_FLAGS,
    kzoo,
    read_json,
    score_export,
    smoke_dir,
    weights_of,
)
from tests.run.test_distributed import SMALL, run_both
from tests.training.helpers import max_difference

# 4 passes over the digits pool (1,245 images, 12 batches of 16 x 7 each),
# a check (backup) every pass.
SHORT = dict(epochs=4, ratio=7, check_every=12, steps_per_execution=4,
             jit_compile=False)


def test_fixmatch_smoke_exports_the_weight_average(tmp_path, capsys):
    result = run.run("fixmatch", out=str(tmp_path / "fm"),
                     **dict(SMOKE, export=SERVED))
    out = smoke_dir(str(tmp_path / "fm"))
    config = read_json(out, "config.json")
    assert config["labels_per_class"] == 5 and config["counts"]["train"] == 50
    assert (config["threshold"], config["ratio"], config["unlabeled_weight"]) == (
        0.95, 7, 1.0)
    with open(os.path.join(out, "training_log.csv")) as f:
        header = f.readline()
    for key in ("labeled_loss", "unlabeled_loss", "mask_rate", "pseudo_label_accuracy"):
        assert key in header
    report = read_json(out, "fixmatch.json")
    assert report["method"] == "fixmatch" and "mask_rate" in report
    # The class check ran at the run's one check and is recorded.
    collapse = read_json(out, "metrics.json")["collapse"]
    assert collapse == report["collapse"] and collapse["checks"] == 1
    assert len(collapse["last_check"]["shares"]) == 10
    assert "collapse_warnings" in header  # a column of the log
    # The digits pool's labels are known: the metric is there (null: n/a).
    accuracy = report["pseudo_label_accuracy"]
    assert accuracy is None or 0.0 <= accuracy <= 1.0
    assert os.path.isfile(os.path.join(out, fm.CURVE))
    printed = capsys.readouterr().out
    assert "fixmatch: 1 epoch" in printed and not RAW_FLOAT.search(printed), printed
    assert "pseudo_label_accuracy " in printed and " nan" not in printed
    assert result.model.name == "lenet5"
    # The SavedModel serves the returned (averaged) network.
    data = load_data("digits", image_size=(32, 32))
    direct = finish.accuracy(result.model, batched(data.test, 256), data.class_names)
    assert score_export(result.saved_model, data="digits") == pytest.approx(
        direct, abs=1e-4)


@pytest.mark.large
def test_a_pool_of_unknown_labels_has_no_pseudo_label_accuracy(
        folder, tmp_path, monkeypatch, capsys):
    drawn = []
    monkeypatch.setattr(fm, "plot_lines",
                        lambda series, *a, **k: drawn.append(set(series)))
    code, printed, err = kzoo(capsys, "fixmatch", "--data", folder,
                              "--input-size", "16", "--out", tmp_path / "fm",
                              *SMOKE_FLAGS)
    assert code == 0, err
    out = smoke_dir(str(tmp_path / "fm"))
    # The pool is unlabeled/ alone: no label to measure pseudo-labels against.
    assert read_json(out, "config.json")["counts"]["unlabeled"] == 30
    assert "mask_rate" in printed and "pseudo_label_accuracy" not in printed
    report = read_json(out, "fixmatch.json")
    assert "mask_rate" in report and "pseudo_label_accuracy" not in report
    assert "pseudo_label_accuracy" not in read_json(out, "metrics.json")
    with open(os.path.join(out, "training_log.csv")) as f:
        assert "pseudo_label_accuracy" not in f.readline()
    assert drawn == [{"validation accuracy (EMA)", "mask rate"}]


def write_log(out, rows):
    with open(os.path.join(out, "training_log.csv"), "w") as f:
        f.write("check,step,epoch,mask_rate,pseudo_label_accuracy,val_accuracy\n")
        f.writelines(f"{i + 1},{12 * (i + 1)},{i + 1},0.5,{plr},{val}\n"
                     for i, (plr, val) in enumerate(rows))


def test_an_n_a_check_is_null_in_the_report_and_a_gap_in_the_curve(
        tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(fm, "plot_lines", lambda series, *a, **k: drawn.append(series))
    out = str(tmp_path)
    write_log(out, [("0.9", "0.5"), ("nan", "0.6"), ("0.8", "0.7"), ("nan", "0.8")])
    assert fm.last_logs(out) == {"mask_rate": 0.5, "pseudo_label_accuracy": None,
                                 "val_accuracy": 0.8}
    fm.plot_curve(out)
    steps, values = drawn[0]["pseudo-label accuracy"]
    assert steps == [12, 24, 36, 48]
    assert values[0] == 0.9 and values[2] == 0.8
    assert np.isnan(values[1]) and np.isnan(values[3])  # gaps, not points at 0
    write_log(out, [("nan", "0.5"), ("nan", "0.6")])  # never measurable
    fm.plot_curve(out)
    assert set(drawn[1]) == {"validation accuracy (EMA)", "mask rate"}


@pytest.mark.large
def test_the_export_is_the_average_not_the_last_weights(tmp_path, monkeypatch):
    trained = []
    real_train = fm.train

    def keep(*args, **kwargs):
        trained.append(real_train(*args, **kwargs))
        return trained[-1]

    monkeypatch.setattr(fm, "train", keep)
    result = run.run("fixmatch", out=str(tmp_path / "fm"), ema_decay=0.9, **SHORT)
    wrapper = trained[0]
    exported = weights_of(result.out)
    averaged = [v.numpy() for v in wrapper.ema_weights]
    assert max_difference([exported[i] for i in range(len(averaged))], averaged) == 0
    assert max_difference(exported, wrapper.network.get_weights()) > 1e-4


@pytest.mark.large
@pytest.mark.parametrize("variant", [
    {"flexmatch": True, "distribution_alignment": True},
    {"variant": "freematch"}, {"variant": "softmatch"}],
    ids=["flexmatch+da", "freematch", "softmatch"])
def test_a_killed_run_resumes_to_the_same_weights_and_state(tmp_path, monkeypatch,
                                                            variant):
    # The strategy's state (FlexMatch's per-image classes, FreeMatch's and
    # SoftMatch's running statistics) drives every later step: the same
    # final weights need the same state after the resume.
    values = dict(SHORT, **variant)
    whole = run.run("fixmatch", out=str(tmp_path / "whole"), **values)

    class Killed(Exception):
        pass

    class KillAfterTwoChecks(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # the backup of check 2 is written (it runs first)
                raise Killed

    real_logs = fitting.logs
    monkeypatch.setattr(fitting, "logs", lambda *a, **k: [
        *real_logs(*a, **k), KillAfterTwoChecks()])
    out = str(tmp_path / "killed")
    with pytest.raises(Killed):
        run.run("fixmatch", out=out, **values)
    assert not os.path.exists(os.path.join(out, "model.keras"))
    monkeypatch.setattr(fitting, "logs", real_logs)
    resumed = run.run("fixmatch", out=out, **values)
    assert max_difference(weights_of(whole.out), weights_of(resumed.out)) == 0.0
    assert whole.test_accuracy == resumed.test_accuracy
    assert read_json(whole.out, "fixmatch.json")["mask_rate"] == read_json(
        resumed.out, "fixmatch.json")["mask_rate"]


@pytest.mark.large
def test_fixmatch_mirrored_over_two_cpus_equals_one_device(tmp_path, capsys):
    values = dict(SMALL, epochs=2, check_every=12, steps_per_execution=4,
                  augment="none", strong="none", flexmatch=True,
                  distribution_alignment=True)
    one, two = run_both("fixmatch", values, tmp_path, capsys)
    logs = []
    for out in (one, two):
        with open(os.path.join(out, "training_log.csv")) as f:
            logs.append(np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2))
    np.testing.assert_allclose(logs[0], logs[1], rtol=1e-5)
    # Adam's first steps move a weight by about lr * sign(gradient); see
    # test_distributed's noisy-student round for the bound.
    assert max_difference(weights_of(one), weights_of(two)) < 1e-3


@pytest.mark.large
def test_mixed_precision_runs_and_exports_float32(tmp_path):
    result = run.run("fixmatch", out=str(tmp_path / "fm"), mixed_precision=True,
                     **dict(SMOKE, export=SERVED))
    import tensorflow as tf

    assert keras.config.dtype_policy().name == "float32"  # restored
    serving = tf.saved_model.load(result.saved_model).signatures["serving_default"]
    outputs = serving.structured_outputs
    assert outputs["logits"].dtype == tf.float32
    assert outputs["probabilities"].dtype == tf.float32


@pytest.mark.large
def test_noisy_student_with_a_fixmatch_teacher(tmp_path, capsys):
    result = run.run("noisy-student", teacher_method="fixmatch", rounds=1,
                     out=str(tmp_path / "ns"), **SMOKE)
    report = result.report
    assert report["supervised"]["method"] == "fixmatch"
    out = result.out
    # The teacher ran as `kzoo fixmatch` (through kzoo.run.run, a --smoke
    # run into round0/smoke): its log has the FixMatch terms.
    record = read_json(os.path.join(out, "round0"), ns.TEACHER_RECORD)
    assert record["command"] == "fixmatch" and record["options"]["export"] == ["keras"]
    with open(os.path.join(record["out"], "training_log.csv")) as f:
        assert "mask_rate" in f.readline()
    assert os.path.isfile(os.path.join(out, "round0", "model.keras"))
    printed = capsys.readouterr().out
    assert "round 0 teacher: lenet5 with FixMatch" in printed
    assert "0 fixmatch" in printed  # the table names the teacher's method


def test_the_fixmatch_teacher_takes_explicit_options_and_fixmatch_defaults():
    config = run.configure("noisy-student", seed=3, labels_per_class=2, epochs=300,
                           ratio=3, threshold=0.0, batch_size=8, augment="none",
                           label_smoothing=0.2, dropout=0.3)
    values = ns.teacher_options(config, "lenet5", 0.5, "/tmp/t")
    teacher = fm.with_length(run.configure("fixmatch", **values))
    assert (teacher.seed, teacher.labels_per_class, teacher.batch_size,
            teacher.augment, teacher.width, teacher.out) == (3, 2, 8, "none", 0.5,
                                                             "/tmp/t")
    defaults = run.configure("fixmatch")
    # Options of the same name that mean something else in noisy-student
    # are fixmatch's own.
    assert (teacher.epochs, teacher.steps, teacher.ratio, teacher.threshold,
            teacher.label_smoothing, teacher.dropout) == (
        None, FIXMATCH_STEPS, defaults.ratio, defaults.threshold,
        defaults.label_smoothing, defaults.dropout)
    # Every option it takes exists in both commands.
    both = set(run.configure("noisy-student").to_dict()) & set(defaults.to_dict())
    assert set(ns.TEACHER_OPTIONS) <= both


def test_fixmatch_without_unlabelled_images_is_a_clear_error(tmp_path, capsys):
    code, _, err = kzoo(capsys, "fixmatch", "--label-fraction", "1.0",
                        "--out", tmp_path, "--smoke")
    assert code == 2 and "No unlabelled images" in err
    code, _, err = kzoo(capsys, "fixmatch", "--strong", "magic", "--out",
                        tmp_path / "x", "--smoke")
    assert code == 2 and "magic" in err
    assert not os.path.exists(tmp_path / "x")


@pytest.mark.parametrize("flags, message", [
    (("--flexmatch", "--variant", "freematch"), "--flexmatch means --variant flexmatch"),
    (("--variant", "softmatch", "--distribution-alignment"), "drop --distribution"),
])
def test_contradicting_variant_flags_are_refused_before_anything_is_written(
        tmp_path, capsys, flags, message):
    code, _, err = kzoo(capsys, "fixmatch", *flags, "--out", tmp_path / "x",
                        "--smoke")
    assert code == 2 and message in err
    assert not os.path.exists(tmp_path / "x")


def test_flexmatch_is_recorded_as_the_variant():
    config = run.configure("fixmatch", flexmatch=True)
    assert fm.variant(config) == "flexmatch" and fm.method_name(config) == "flexmatch"
    assert fm.title("flexmatch+da") == "FlexMatch + distribution alignment"
    assert fm.title("freematch") == "FreeMatch"


def test_the_collapse_summary_says_what_to_do(capsys):
    fm.say_collapse({"checks": 40, "last_check": {"confident": 0.9}, "warnings": [
        {"kind": "swapped", "classes": ["1", "3"], "since": 900, "until": 9300,
         "text": "classes '1' and '3' look swapped"}]})
    printed = capsys.readouterr().out
    assert "CLASS WARNING (seen from step 900 to 9,300): classes '1' and '3'" in printed
    assert "label more images of '1', '3'" in printed
    fm.say_collapse({"checks": 3, "last_check": {"confident": 0.02}, "warnings": []})
    printed = capsys.readouterr().out
    assert "no class warning in 3 check(s)" in printed and "not judged" in printed


@pytest.mark.large
def test_a_short_real_run_beats_supervised_training(tmp_path):
    # Seed 0, 5 labels per class, the test split scored through the export.
    # Supervised: the noisy-student teacher's 300 passes (1,200 steps) with
    # crop; FixMatch: 200 passes over the pool at mu = 7 (2,400 steps,
    # about 25 s here).
    budget = dict(labels_per_class=5, seed=0, jit_compile=False)
    supervised = run.run("train", out=str(tmp_path / "sup"), epochs=300,
                         augment="default", **budget)
    fixmatch = run.run("fixmatch", out=str(tmp_path / "fm"), epochs=200,
                       ratio=7, **budget)
    served = score_export(fixmatch.saved_model, data="digits")
    assert served == pytest.approx(fixmatch.test_accuracy, abs=1e-4)
    assert fixmatch.test_accuracy > supervised.test_accuracy + 0.03, (
        fixmatch.test_accuracy, supervised.test_accuracy)
