"""Runs under tf.distribute: 2 replicas equal 1 device; 2 workers agree and
only the chief exports.

Two replicas run in-process on the two logical CPUs of tests/conftest.py;
two workers are two `python -m kzoo` processes (a cluster of processes is
the point).
"""

import csv
import json
import os
import re
import socket
import time

import numpy as np
import pytest

from kzoo import run
from kzoo.outputs import LOCK_FILE
from tests.run.helpers import start_kzoo, weights_of
from tests.training.helpers import max_difference, replica_strategy

# Two replicas and two worker processes, each against one device: large.
pytestmark = pytest.mark.large

# No dropout and no random augmentation. Each replica draws its own dropout
# masks. Keras draws one batch (and tf.data prefetches more) through the
# augmentation layers before training under a strategy, which moves their
# random stream on; the data order itself is the same (see
# kzoo.data.pipeline.endless_per_iterator).
SMALL = dict(labels_per_class=5, dropout=0.0, jit_compile=False)
TOLERANCE = 1e-5


def run_both(command, values, tmp_path, capsys):
    """Run `command` with the default strategy and with 2 mirrored replicas;
    returns the two --out folders."""
    replica_strategy()  # the 2-CPU strategy --strategy mirrored picks up
    outs = []
    for strategy in ("default", "mirrored"):
        out = str(tmp_path / strategy)
        capsys.readouterr()
        result = run.run(command, **values, strategy=strategy, out=out)
        printed = capsys.readouterr().out
        assert result.out == out
        if strategy == "mirrored":
            assert "strategy mirrored: 2 replicas" in printed
        else:
            assert "replicas" not in printed
        outs.append(out)
    return outs


def test_plain_training_on_two_replicas_equals_one_device(tmp_path, capsys):
    # A check every pass: the logs compare pass by pass.
    one, two = run_both("train", dict(SMALL, epochs=3, check_every=1), tmp_path,
                        capsys)
    assert max_difference(weights_of(one), weights_of(two)) < TOLERANCE
    logs = []
    for out in (one, two):
        with open(os.path.join(out, "training_log.csv")) as f:
            logs.append(np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2))
    assert logs[0].shape[0] == 3  # one row per epoch
    np.testing.assert_allclose(logs[0], logs[1], rtol=TOLERANCE)


def test_noisy_student_round_on_two_replicas_equals_one_device(tmp_path, capsys):
    values = dict(SMALL, rounds=1, epochs=3, student_epochs=1, augment="none",
                  noise="none", noise_dropout=0.0, balance=False)
    one, two = run_both("noisy-student", values, tmp_path, capsys)
    # The teacher (round 0) agrees like plain training does.
    teachers = [weights_of(os.path.join(out, "round0")) for out in (one, two)]
    assert max_difference(*teachers) < TOLERANCE
    reports, logs = [], []
    for out in (one, two):
        with open(os.path.join(out, "noisy_student.json")) as f:
            reports.append(json.load(f)["noised"][0])
        with open(os.path.join(out, "round1", "training_log.csv")) as f:
            logs.append(next(csv.DictReader(f)))
    assert reports[0]["per_class"] == reports[1]["per_class"]  # same pseudo-labels
    for key in ("loss", "labeled_loss", "unlabeled_loss", "mask_rate"):
        np.testing.assert_allclose(float(logs[1][key]), float(logs[0][key]),
                                   rtol=TOLERANCE)
    # The student's losses agree to 1e-6, its weights to 3.7e-4 (measured):
    # Adam's first steps move each weight by about lr * sign(gradient), so a
    # weight whose gradient is a rounding error away from 0 can step the
    # other way. The bound is one step of --lr (1e-3).
    assert max_difference(weights_of(one), weights_of(two)) < 1e-3


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_agree_and_only_the_chief_exports(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = str(tmp_path / "run")
    flags = ["--strategy", "multiworker", "--epochs", "2", "--labels-per-class",
             "10", "--out", out]
    processes = []
    start = time.monotonic()
    try:
        for index in range(2):
            config = {"cluster": {"worker": workers},
                      "task": {"type": "worker", "index": index}}
            processes.append(
                start_kzoo("train", *flags, TF_CONFIG=json.dumps(config)))
        outputs = [p.communicate(timeout=90) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.monotonic() - start
    for p, (stdout, stderr) in zip(processes, outputs):
        assert p.returncode == 0, stderr[-3000:]
    digests = [re.search(r"worker (\d) of 2: weights sha256 (\w+)", stdout).groups()
               for stdout, _ in outputs]
    assert sorted(d[0] for d in digests) == ["0", "1"]
    assert digests[0][1] == digests[1][1]  # identical weights on both workers
    assert "strategy multiworker: 2 replicas" in outputs[0][0]
    with open(os.path.join(out, "metrics.json")) as f:
        assert json.load(f)["weights_sha256"] == digests[0][1]
    # Only the chief's outputs remain: one SavedModel, no worker scratch.
    assert sorted(os.listdir(out)) == sorted([
        "1", "config.json", "confusion_matrix.png", "logs", "metrics.json",
        "model.keras", "model_card.json", "training_log.csv", LOCK_FILE])
    assert elapsed < 60, f"two workers took {elapsed:.0f} s"
