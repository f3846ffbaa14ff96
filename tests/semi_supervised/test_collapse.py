"""Collapse warnings: the rule on hand-made predictions, and the monitor on
a constructed network whose predictions swap two classes' regions and
give a third class no confident pseudo-label."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.semi_supervised import FixMatchModel
from kzoo.semi_supervised.collapse import (
    PERSIST,
    CollapseMonitor,
    class_shares,
    diagnose,
    neighbour_votes,
    sample_arrays,
)

UNIFORM = np.full(3, 1 / 3)


def test_class_shares_count_only_confident_predictions():
    probs = np.array([[0.96, 0.02, 0.02], [0.97, 0.02, 0.01], [0.5, 0.4, 0.1],
                      [0.01, 0.98, 0.01]])
    shares, confident = class_shares(probs, 0.95)
    np.testing.assert_allclose(shares, [2 / 3, 1 / 3, 0])
    assert confident == pytest.approx(0.75)
    assert class_shares(probs, 0.99)[0].tolist() == [0, 0, 0]


def test_a_class_without_confident_pseudo_labels_is_starved():
    votes = np.eye(3)  # each labelled image's neighbours take its label
    findings = diagnose([0.5, 0.5, 0.0], 0.8, UNIFORM, votes, [0, 1, 2],
                        class_names=["cat", "dog", "owl"])
    assert [(f["kind"], f["classes"]) for f in findings] == [("starved", ["owl"])]
    # Too few confident predictions to judge shares (early in a run): nothing.
    assert diagnose([0.5, 0.5, 0.0], 0.05, UNIFORM, votes, [0, 1, 2]) == []
    # A share at half its labelled share is not starved.
    assert diagnose([0.5, 0.34, 0.16], 0.8, UNIFORM, votes, [0, 1, 2]) == []


def test_two_classes_whose_neighbours_take_each_other_are_swapped():
    votes = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.0, 0.0, 1.0],
                      [0.2, 0.7, 0.1]])
    findings = diagnose([0.4, 0.3, 0.3], 0.9, UNIFORM, votes, [0, 1, 2, 0])
    assert [(f["kind"], f["classes"]) for f in findings] == [("swapped", ["0", "1"])]


def test_a_class_taken_by_another_one_way_is_taken():
    votes = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    findings = diagnose([0.3, 0.4, 0.3], 0.9, UNIFORM, votes, [0, 1, 2])
    assert [(f["kind"], f["classes"]) for f in findings] == [("taken", ["0", "2"])]
    assert "predicted '2'" in findings[0]["text"]


def test_neighbour_votes_use_the_nearest_pool_images_by_cosine():
    pool = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    predicted = np.array([1, 1, 0, 0])
    votes = neighbour_votes(np.array([[1, 0.05], [0.05, 1]]), pool, predicted, 2, k=2)
    np.testing.assert_allclose(votes, [[0, 1], [1, 0]])


def region_network():
    """2-D points -> features (themselves) -> logits: the region around
    (1, 0) is predicted class 1, around (0, 1) class 0 (swapped), and
    around (-1, -1) nothing is confident (the three logits tie)."""
    inputs = keras.Input((2,))
    features = keras.layers.Dense(2, name="features")(inputs)
    logits = keras.layers.Dense(3, name="predictions")(features)
    network = keras.Model(inputs, logits)
    network.get_layer("features").set_weights([np.eye(2, dtype="float32"),
                                               np.zeros(2, "float32")])
    network.get_layer("predictions").set_weights([
        np.array([[0, 12, 6], [12, 0, 6]], "float32"), np.zeros(3, "float32")])
    return network


def points(centre, n, seed):
    rng = np.random.default_rng(seed)
    return (np.asarray(centre) + rng.normal(0, 0.05, (n, 2))).astype("float32")


def test_the_monitor_warns_of_a_swap_and_a_starved_class_once_they_last():
    pool = np.concatenate([points((1, 0), 40, 0), points((0, 1), 40, 1),
                           points((-1, -1), 40, 2)])
    labelled = (np.concatenate([points((1, 0), 2, 3), points((0, 1), 2, 4),
                                points((-1, -1), 2, 5)]), np.array([0, 0, 1, 1, 2, 2]))
    said = []
    monitor = CollapseMonitor(labelled, pool, UNIFORM, threshold=0.95,
                              class_names=["a", "b", "c"], say=said.append)
    monitor.set_model(FixMatchModel(region_network(), ema_decay=0.5))
    logs = {}
    for epoch in range(PERSIST):
        monitor.on_epoch_end(epoch, logs)
    kinds = {(f["kind"], tuple(f["classes"])) for f in monitor.active.values()}
    # c's images tie, and a tie's argmax is the first class: "taken" by a.
    assert kinds == {("swapped", ("a", "b")), ("starved", ("c",)), ("taken", ("c", "a"))}
    assert logs["collapse_warnings"] == 3.0
    assert len(said) == 3 and all(line.startswith("CLASS WARNING") for line in said)
    assert "seen since step 1" in said[0]
    report = monitor.report()
    assert {w["kind"] for w in report["warnings"]} == {"swapped", "starved", "taken"}
    assert report["last_check"]["shares"][2] == 0.0
    assert report["last_check"]["agreement"][:2] == [0.0, 0.0]


def test_the_monitor_says_nothing_of_a_healthy_model_or_a_passing_finding():
    pool = np.concatenate([points((1, 0), 40, 0), points((0, 1), 40, 1)])
    labelled = (np.concatenate([points((1, 0), 2, 3), points((0, 1), 2, 4)]),
                np.array([1, 1, 0, 0]))  # where the network predicts them
    network = region_network()
    said = []
    monitor = CollapseMonitor(labelled, pool, [0.5, 0.5, 0.0], say=said.append)
    monitor.set_model(FixMatchModel(network, ema_decay=0.0))
    monitor.on_epoch_end(0, {})
    assert said == [] and monitor.report()["warnings"] == []
    # A finding that lasts one check only is never said.
    monitor.labels = np.array([0, 0, 1, 1])
    monitor.on_epoch_end(1, {})
    monitor.labels = np.array([1, 1, 0, 0])
    monitor.on_epoch_end(2, {})
    assert said == [] and monitor.report()["checks"] == 3


def test_the_monitor_reads_the_weight_average():
    pool = np.concatenate([points((1, 0), 20, 0), points((0, 1), 20, 1)])
    labelled = (points((1, 0), 2, 3), np.array([1, 1]))
    model = FixMatchModel(region_network(), ema_decay=0.5)
    # The trained weights now predict everything as class 2; the average
    # still holds the region network, which is what the monitor reads.
    model.network.get_layer("predictions").set_weights([
        np.zeros((2, 3), "float32"), np.array([0, 0, 20], "float32")])
    monitor = CollapseMonitor(labelled, pool, [0.5, 0.5, 0.0], say=lambda _: None)
    monitor.set_model(model)
    monitor.check(1)
    assert monitor.last["shares"][2] == 0.0 and monitor.last["agreement"][1] == 1.0


def test_sample_arrays_spreads_over_the_dataset_and_skips_unreadable_images():
    images = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    images[4] = np.nan
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(10)))
    _x, y = sample_arrays(ds, 10, 5)
    assert y.tolist() == [0, 2, 6, 8]  # every 2nd; image 4 unreadable
    assert sample_arrays(ds, 10, 100)[1].tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]


class Plan:
    steps_per_epoch = 100
    total_steps = 1000


def test_the_run_warns_of_findings_seen_late_even_if_gone_at_the_end():
    pool = np.concatenate([points((1, 0), 40, 0), points((0, 1), 40, 1)])
    right, wrong = np.array([1, 1, 0, 0]), np.array([0, 0, 1, 1])
    labelled = (np.concatenate([points((1, 0), 2, 3), points((0, 1), 2, 4)]), right)

    def run(labels_by_check):
        said = []
        monitor = CollapseMonitor(labelled, pool, [0.5, 0.5, 0.0], plan=Plan(),
                                  say=said.append)
        monitor.set_model(FixMatchModel(region_network(), ema_decay=0.0))
        for epoch, labels in enumerate(labels_by_check):
            monitor.labels = labels
            monitor.on_epoch_end(epoch, {})
        return monitor.report()["warnings"], said

    # Seen at steps 100-300 only (the first half): watched, never said.
    assert run([wrong] * 3 + [right] * 7) == ([], [])
    # Seen at steps 500-700 (from the second half), gone at the end: said,
    # and the run's warning.
    late, said = run([right] * 4 + [wrong] * 3 + [right] * 3)
    assert [(w["kind"], w["since"], w["until"]) for w in late] == [
        ("swapped", 500, 700)]
    assert len(said) == 2 and said[0].startswith("CLASS WARNING (step 600, seen "
                                                 "since step 500)")
    assert said[1].startswith("step 800: gone")
    # Seen from step 300 on: said at the first check of the second half.
    _, said = run([right] * 2 + [wrong] * 8)
    assert said[0].startswith("CLASS WARNING (step 600, seen since step 300)")


def test_sample_arrays_of_a_folder_pool_reads_the_files_it_takes(tmp_path):
    from kzoo.data import load_data
    from kzoo.data.items import indexed
    from kzoo.testing.images import write_image

    for name in ("train/a", "train/b", "unlabeled"):
        (tmp_path / name).mkdir(parents=True)
    for k in range(12):
        write_image(tmp_path / "train" / ("a" if k % 2 else "b") / f"t{k}.png",
                    np.full((8, 8, 3), 20 * k, np.uint8))
        write_image(tmp_path / "unlabeled" / f"u{k:02d}.png",
                    np.full((8, 8, 3), 20 * k, np.uint8))
    data = load_data(str(tmp_path), image_size=(8, 8))
    assert indexed(data.unlabeled) is not None  # read by index, not all decoded
    x, y = sample_arrays(data.unlabeled, data.counts["unlabeled"], 4)
    # Every 3rd of the 12 files: u00, u03, u06, u09.
    np.testing.assert_allclose(x[:, 0, 0, 0], [0, 60, 120, 180], atol=1)
    assert y.tolist() == [-1] * 4
