"""pseudo_label.py, noisy_student.py and label_budget.py end to end."""

import json
import os

import pytest

from kzoo.cli import run_main
from kzoo.errors import KzooError
from kzoo.testing.images import make_image_folder
from tests.recipes.helpers import load_recipe, score_export, smoke_dir

pseudo_label = load_recipe("pseudo_label")
noisy_student = load_recipe("noisy_student")
label_budget = load_recipe("label_budget")
FAST = ["--smoke", "--no-jit-compile", "--steps-per-execution", "1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """train/<class> (8 each), test/<class> (4 each) and 30 unlabeled/ files."""
    root = str(tmp_path_factory.mktemp("images") / "data")
    return make_image_folder(root, classes=("a", "b", "c"), per_class=8, size=16,
                             splits=("train", "test"), unlabeled=30)


def test_pseudo_label_smoke_exports_a_scoreable_network(tmp_path, capsys):
    out = str(tmp_path / "pl")
    code = run_main(pseudo_label.main, ["--out", out, "--threshold", "0.9",
                                        "--soft", *FAST])
    assert code == 0
    out = smoke_dir(out)
    config = json.load(open(os.path.join(out, "config.json")))
    assert (config["t1"], config["t2"]) == (6, 36)  # 10% / 60% of 60 epochs
    assert config["counts"]["train"] == 50
    assert config["counts"]["unlabeled"] > 1000
    log = open(os.path.join(out, "training_log.csv")).read()
    assert "unlabeled_loss" in log and "mask_rate" in log
    accuracy = score_export(os.path.join(out, "1"), capsys, "--data", "digits")
    assert 0.0 <= accuracy <= 1.0


def test_pseudo_label_on_an_image_folder(folder, tmp_path, capsys):
    out = str(tmp_path / "pl")
    code = run_main(pseudo_label.main, ["--data", folder, "--input-size", "16",
                                        "--labels-per-class", "5",
                                        "--out", out, *FAST])
    assert code == 0
    out = smoke_dir(out)
    config = json.load(open(os.path.join(out, "config.json")))
    # of each class's 8: 1 validation, 5 labelled, 2 unlabelled (+ 30 files)
    counts = config["counts"]
    assert (counts["val"], counts["train"], counts["unlabeled"]) == (3, 15, 36)
    accuracy = score_export(os.path.join(out, "1"), capsys, "--data", folder)
    assert 0.0 <= accuracy <= 1.0


def test_pseudo_label_without_unlabelled_images_is_a_clear_error(tmp_path, capsys):
    code = run_main(pseudo_label.main, ["--label-fraction", "1.0",
                                        "--out", str(tmp_path), *FAST])
    assert code == 2
    assert "No unlabelled images" in capsys.readouterr().err


def test_noisy_student_rounds_on_an_image_folder(folder, tmp_path, capsys):
    out = str(tmp_path / "ns")
    code = run_main(noisy_student.main, [
        "--data", folder, "--input-size", "16", "--rounds", "2", "--balance",
        "--ablate-noise", "--val-fraction", "0", "--threshold", "0",
        "--labels-per-class", "5", "--out", out, *FAST])
    assert code == 0
    out = smoke_dir(out)
    report = json.load(open(os.path.join(out, "noisy_student.json")))
    assert [r["round"] for r in report["noised"]] == [1, 2]
    assert [r["noise"] for r in report["no_noise"]] == [False, False]
    # pool: 3 of each class's 8 training images (5 kept labelled) + 30 files
    first = report["noised"][0]
    assert sum(first["per_class"]) == first["pseudo_examples"]
    assert 0 < first["pseudo_labeled"] <= 39
    # accuracy over the 9 pool images whose hidden label is known
    assert 0.0 <= first["pseudo_label_accuracy"] <= 1.0
    assert os.path.exists(os.path.join(out, "rounds.png"))
    assert os.path.exists(os.path.join(out, "round2", "model.keras"))
    assert os.path.exists(os.path.join(out, "round1_no_noise", "model.keras"))
    accuracy = score_export(report["saved_model"], capsys, "--data", folder)
    assert accuracy == pytest.approx(report["test_accuracy"], abs=1e-4)


def test_noisy_student_stops_when_no_pseudo_label_passes(folder, tmp_path, capsys):
    code = run_main(noisy_student.main, [
        "--data", folder, "--input-size", "16", "--threshold", "1.0",
        "--labels-per-class", "5", "--out", str(tmp_path), *FAST])
    assert code == 2
    assert "reached --threshold 1.0 on none of the 36" in capsys.readouterr().err


def test_one_full_noisy_student_round_on_real_digits(tmp_path):
    out = str(tmp_path / "ns")
    code = run_main(noisy_student.main, [
        "--classes", "0,1,2", "--labels-per-class", "5", "--input-size", "16",
        "--rounds", "1", "--epochs", "150", "--student-epochs", "20",
        "--threshold", "0", "--out", out])
    assert code == 0
    report = json.load(open(os.path.join(out, "noisy_student.json")))
    row = report["noised"][0]
    config = json.load(open(os.path.join(out, "config.json")))
    # threshold 0 keeps every image; balancing trims the larger classes to
    # their most confident and repeats the smaller ones to the same count
    assert row["pseudo_labeled"] <= config["counts"]["unlabeled"]
    assert len(set(row["per_class"])) == 1
    assert row["pseudo_label_accuracy"] > 0.8
    # the noised student beats its teacher (measured: 95.3% -> 100% on the
    # 107 test images of 0, 1 and 2)
    assert row["test_accuracy"] > 0.8
    assert row["test_accuracy"] >= report["supervised"]["test_accuracy"]


def test_label_budget_report_smoke_on_an_image_folder(folder, tmp_path, capsys):
    out = str(tmp_path / "budget")
    argv = ["--data", folder, "--input-size", "16", "--budgets", "2,all",
            "--seeds", "0,1", "--techniques", "supervised,pseudo_label",
            "--out", out, "--smoke"]
    code = run_main(label_budget.main, argv)
    assert code == 0
    out = smoke_dir(out)  # and each run's own --smoke folder below it
    report = json.load(open(os.path.join(out, "report.json")))
    supervised = report["results"]["supervised"]
    assert set(supervised) == {"2", "all"} and len(supervised["2"]["runs"]) == 2
    assert supervised["2"]["min"] <= supervised["2"]["mean"] <= supervised["2"]["max"]
    # pseudo-labelling needs unlabelled images: nothing at 'all'
    assert report["results"]["pseudo_label"]["all"] is None
    assert len(report["results"]["pseudo_label"]["2"]["runs"]) == 2
    assert os.path.exists(os.path.join(out, "report.png"))
    assert os.path.exists(
        os.path.join(out, "2", "pseudo_label", "seed1", "smoke", "1"))
    # the same command again reuses every finished run
    capsys.readouterr()
    assert run_main(label_budget.main, argv) == 0
    assert capsys.readouterr().out.count("reusing") == 6
    assert json.load(open(os.path.join(out, "report.json"))) == report


def test_label_budget_rejects_unknown_techniques_and_budgets(tmp_path, capsys):
    assert run_main(label_budget.main, ["--techniques", "magic",
                                        "--out", str(tmp_path)]) == 2
    assert "magic" in capsys.readouterr().err
    assert run_main(label_budget.main, ["--budgets", "0", "--out", str(tmp_path)]) == 2
    assert "--budgets" in capsys.readouterr().err


def test_noisy_student_model_specs_take_a_width_and_the_last_repeats():
    models = [noisy_student.parse_model(s, 1.0) for s in ("lenet5", "vgg11_bn:0.25")]
    assert models == [("lenet5", 1.0), ("vgg11_bn", 0.25)]
    args = noisy_student.build_parser().parse_args(["--models", "lenet5,vgg11_bn:0.25"])
    assert [noisy_student.round_model(args, k) for k in range(4)] == [
        models[0], models[1], models[1], models[1]]
    with pytest.raises(ValueError, match="Unknown model"):
        noisy_student.parse_model("resnet50", 1.0)
    with pytest.raises(KzooError, match="NAME:WIDTH"):
        noisy_student.parse_model("lenet5:wide", 1.0)
