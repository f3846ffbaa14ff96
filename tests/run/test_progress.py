"""What a run prints: `PhaseProgress` bars (a log line per epoch at most,
redrawn in place on a terminal) and numbers rounded for people."""

import io
import re

import keras
import numpy as np
import pytest

from kzoo.run import progress
from kzoo.run.progress import MAX_LOG_LINES, PhaseProgress
from kzoo.training.plan import FitPlan


class Terminal(io.StringIO):
    def isatty(self):
        return True


def fit_with_bar(epochs, stream, steps=2, initial_epoch=0, passes_per_check=1,
                 estimate_seconds=float("inf"), **bar_options):
    """A tiny `model.fit` (verbose=0) of `epochs` checks of `steps` steps,
    each `passes_per_check` passes, shown by one `PhaseProgress`; its text
    (the up-front estimate after `estimate_seconds`: by default none)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(4 * steps, 3)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(4 * steps) % 2]
    plan = FitPlan(steps_per_pass=steps // passes_per_check,
                   passes=epochs * passes_per_check, steps_per_execution=1,
                   steps_per_epoch=steps, epochs=epochs)
    bar = PhaseProgress("teacher", plan, start=initial_epoch,
                        stream=stream, **bar_options)
    bar.ESTIMATE_SECONDS = estimate_seconds
    model.fit(x, y, batch_size=4, epochs=epochs, initial_epoch=initial_epoch,
              callbacks=[bar], verbose=0)
    return stream.getvalue()


@pytest.mark.parametrize("epochs", [3, 10, 25])
def test_a_log_gets_at_most_one_line_per_epoch_and_a_summary(epochs):
    text = fit_with_bar(epochs, io.StringIO())
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    *per_epoch, summary = lines
    assert len(per_epoch) <= min(epochs, MAX_LOG_LINES)
    shown = [int(re.match(r"teacher: epoch (\d+)/%d  ETA \d+:\d\d  loss "
                          % epochs, line)[1]) for line in per_epoch]
    assert shown == sorted(set(shown)) and len(shown) >= min(epochs - 1, 5)
    assert all(line.rstrip().endswith(tuple("0123456789")) for line in per_epoch)
    assert re.match(rf"teacher: {epochs} epochs in \d+:\d\d; loss \S+  "
                    r"accuracy \d\.\d{4}$", summary), summary


def test_a_resumed_phase_counts_only_the_epochs_it_ran():
    text = fit_with_bar(25, io.StringIO(), initial_epoch=20)
    *per_epoch, summary = text.splitlines()
    assert [line.split()[2] for line in per_epoch] == [
        "21/25", "22/25", "23/25", "24/25"]
    assert summary.startswith("teacher: 5 epochs in ")


def test_checks_of_several_passes_are_counted_in_passes():
    text = fit_with_bar(4, io.StringIO(), steps=10, passes_per_check=5)
    *per_check, summary = text.splitlines()
    assert [line.split()[2] for line in per_check] == ["5/20", "10/20", "15/20"]
    assert summary.startswith("teacher: 20 epochs in ")
    resumed = fit_with_bar(4, io.StringIO(), steps=10, passes_per_check=5,
                           initial_epoch=2).splitlines()
    assert [line.split()[2] for line in resumed[:-1]] == ["15/20"]
    assert resumed[-1].startswith("teacher: 10 epochs in ")


def test_passes_are_whole_or_one_decimal():
    assert [progress.passes(v) for v in (75, 75.0, 7.5, 10 / 3)] == [
        "75", "75", "7.5", "3.3"]


def test_a_terminal_gets_one_bar_redrawn_in_place():
    text = fit_with_bar(3, Terminal())
    bar, summary, end = text.split("\n")
    assert end == ""
    draws = bar.split("\r")[1:]
    assert bar.startswith("\r") and len(draws) >= 3  # at least once an epoch
    assert all(d.startswith("teacher [") and d.endswith("\x1b[K") for d in draws)
    assert "] epoch 3/3  loss " in draws[-1]  # the end: no ETA
    assert draws[-1].startswith("teacher [" + "=" * progress.BAR_WIDTH + "]")
    assert summary.startswith("teacher: 3 epochs in ")


def test_numbers_are_rounded_to_what_they_mean():
    assert progress.number(0.123456) == "0.1235"
    assert progress.number(1) == "1.0000"
    assert progress.number(2.3456789) == "2.346"
    assert progress.number(12345.678) == "1.235e+04"
    assert progress.number(None) == "-"
    assert progress.number(float("nan")) == "nan"
    assert progress.counts({"train": 1295, "val": 143}) == (
        "train 1,295, val 143 images")
    assert progress.duration(75) == "1:15" and progress.duration(3725) == "1:02:05"


def test_a_rate_with_nothing_to_measure_is_n_a_and_a_nan_loss_stays_nan():
    logs = {"loss": float("nan"), "mask_rate": 0.0,
            "pseudo_label_accuracy": np.float32("nan")}
    assert progress.metrics_text(logs) == (
        "loss nan  mask_rate 0.0000  pseudo_label_accuracy n/a")
    assert progress.metrics_text({"pseudo_label_accuracy": 0.5}) == (
        "pseudo_label_accuracy 0.5000")


@pytest.mark.large
def test_a_log_shows_the_first_check_with_its_eta():
    # 100 checks, 10 log lines: the first check is shown (a first ETA
    # after a few seconds), then every tenth.
    text = fit_with_bar(100, io.StringIO(), steps=1)
    *per_epoch, _ = text.splitlines()
    shown = [line.split()[2] for line in per_epoch]
    assert shown[:3] == ["1/100", "10/100", "20/100"]
    assert all(" ETA " in line for line in per_epoch)


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_a_redrawn_line_fits_the_terminal_eta_first(columns):
    text = fit_with_bar(3, Terminal(), width=columns)
    draws = text.split("\n")[0].split("\r")[1:]
    for draw in draws:
        line = draw.removesuffix("\x1b[K")
        assert len(line) < columns, line
        assert line.startswith("teacher [")
    # ETA before any metric: where the run is and how long it has left
    # survive the narrowest terminal that holds them.
    mid = [d for d in draws if "ETA" in d]
    assert mid and all(re.search(r"\] epoch \d/3  ETA \d+:\d\d", d) for d in mid)
    if columns == 40:
        assert all("loss" not in d for d in mid)  # whole fields dropped
    if columns == 120:
        assert any("accuracy" in d for d in mid)


def test_fit_line_cuts_whole_fields():
    text = "phase [==>  ]  step 1/4  ETA 0:10  loss 1.234  accuracy 0.5000"
    assert progress.fit_line(text, 200) == text
    assert progress.fit_line(text, 40) == "phase [==>  ]  step 1/4  ETA 0:10"
    assert progress.fit_line(text, 5) == "phase"


def test_a_step_budget_counts_steps_and_says_the_epochs_they_made():
    plan = FitPlan(steps_per_pass=4, passes=2.5, steps_per_execution=1,
                   steps_per_epoch=2, epochs=5, budget=10)
    stream = io.StringIO()
    bar = PhaseProgress("flexmatch", plan, stream=stream)
    bar.on_train_begin()
    for epoch in range(5):
        bar.on_epoch_begin(epoch)
        bar.on_epoch_end(epoch, {"loss": 1.0})
    bar.on_train_end()
    *lines, summary = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["2/10", "4/10", "6/10", "8/10"]
    assert re.match(r"flexmatch: 10 steps \(2\.5 epochs\) in 0:00; loss 1\.000",
                    summary), summary
    assert progress.length(plan) == "10 steps"
    assert progress.done(plan, 3) == "6"
    whole = FitPlan(4, 30, 1, 8, 15)
    assert progress.length(whole) == "30 epochs" and progress.done(whole, 3) == "6"


def test_a_log_says_about_how_long_before_the_first_check():
    # Measured after the first graph call (which traces): here over any
    # time at all, so that the tiny fit has an estimate.
    text = fit_with_bar(4, io.StringIO(), steps=3, estimate_seconds=0.0)
    first, *rest = text.splitlines()
    assert re.match(r"teacher: about \d+:\d\d for 4 epochs \(at the speed of "
                    r"the first steps\)$", first), first
    assert rest[0].startswith("teacher: epoch 1/4  ETA ")
    assert sum("about" in line for line in rest) == 0  # once
    terminal = fit_with_bar(4, Terminal(), steps=3, estimate_seconds=0.0)
    assert "about" not in terminal  # the bar has its ETA
