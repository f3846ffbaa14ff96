import numpy as np
import pytest

from kzoo.analysis import classification_report, plot_confusion_matrix


def test_report_on_hand_made_predictions(tmp_path):
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    report = classification_report(y_true, y_pred, ["a", "b", "c", "d"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class_accuracy"] == {"a": 0.5, "b": pytest.approx(2 / 3),
                                            "c": 1.0, "d": None}
    assert report["confusion_matrix"][1] == [1, 2, 0, 0]
    assert np.sum(report["confusion_matrix"]) == 6
    path = tmp_path / "cm.png"
    plot_confusion_matrix(report["confusion_matrix"], list("abcd"), str(path))
    assert path.stat().st_size > 1000


def test_report_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        classification_report([0, 1], [0], ["a", "b"])
