"""What a run prints: one progress bar per phase, banners, summaries.

A phase (the teacher, each Noisy Student round, each distillation model)
is one `fit` call and one `PhaseProgress` bar over all its epochs, with the
ETA of the phase. On a terminal the bar is redrawn in place; when the
output is a file or a pipe (CI, `nohup`, `tee`) it prints at most one line
per check (`--check-every`) — at most `MAX_LOG_LINES` per phase — so a
log stays readable.
Numbers are rounded to what they mean (accuracies to 4 places, losses to
4 significant digits).
"""

import math
import sys
import time

import keras

MAX_LOG_LINES = 10
BAR_WIDTH = 24
REDRAW_SECONDS = 0.2


def say(text=""):
    """Print one line of the run's story (flushed: logs stay in order)."""
    print(text, flush=True)


def banner(title):
    """A blank line, then `== title`: the start of a phase."""
    say()
    say(f"== {title}")


def number(value):
    """A metric for people: 4 places for [0, 1], 4 significant digits else."""
    if value is None:
        return "-"
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if 0 <= value <= 1:
        return f"{value:.4f}"
    return f"{value:.4g}"


def counts(split_counts):
    """`{'train': 50, 'val': 143}` -> 'train 50, val 143 images'."""
    parts = ", ".join(f"{k} {v:,}" for k, v in split_counts.items())
    return f"{parts} images"


def duration(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


# What a progress line shows of the logs, where present (the semi-supervised
# runs add how many pseudo-labels passed and, where known, how many are right).
SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy", "mask_rate",
         "pseudo_label_accuracy")


def metrics_text(logs):
    return "  ".join(f"{k} {logged(k, logs[k])}" for k in SHOWN
                     if k in (logs or {}))


def logged(key, value):
    """A logged value for people: `number`, or `n/a` for a rate that is
    NaN (nothing to measure in that check, e.g. no pseudo-label passed the
    threshold); a NaN loss stays `nan`."""
    if (not key.endswith("loss") and value is not None
            and math.isnan(float(value))):
        return "n/a"
    return number(value)


def passes(value):
    """Passes over the data for people: 75, or 7.5 inside a pass."""
    value = float(value)
    return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"


class PhaseProgress(keras.callbacks.Callback):
    """One progress bar over every check of a `fit` call, counted in
    epochs (passes over the data; a check is one Keras epoch, see
    `kzoo.training.plan`).

    Args:
        phase: Its name (`teacher`, `round 2 student`).
        plan: The fit's `FitPlan`.
        start: Checks already done (a resumed run).
        stream: Where to write (default `sys.stdout`).
        interactive: Redraw in place; default: whether `stream` is a terminal.
    """

    def __init__(self, phase, plan, start=0, stream=None, interactive=None):
        super().__init__()
        self.phase = phase
        self.plan = plan
        self.epochs = plan.epochs
        self.start = start
        self.stream = stream or sys.stdout
        if interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interactive = interactive
        self.every = max(1, math.ceil((self.epochs - start) / MAX_LOG_LINES))
        self._began = None
        self._drawn = 0.0
        self._epoch = start
        self._logs = {}

    def on_train_begin(self, logs=None):
        self._began = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.interactive and time.monotonic() - self._drawn > REDRAW_SECONDS:
            self._logs.update(logs or {})
            self._draw(self._epoch + (batch + 1) / self.plan.steps_per_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._logs = dict(logs or {})
        done = epoch + 1
        if self.interactive:
            self._draw(done)
        elif (done - self.start) % self.every == 0 and done < self.epochs:
            self._write(f"{self.phase}: epoch {self._passes(done)}/"
                        f"{self.plan.passes}  {metrics_text(self._logs)}  "
                        f"{self._eta(done)}\n")

    def on_train_end(self, logs=None):
        if self.interactive:
            self._write("\n")
        elapsed = time.monotonic() - (self._began or time.monotonic())
        ran = (self.plan.passes_done(self._epoch + 1)
               - self.plan.passes_done(self.start))
        self._write(f"{self.phase}: {passes(ran)} epoch{'s' * (ran != 1)} in "
                    f"{duration(elapsed)}; {metrics_text(self._logs)}\n")

    def _passes(self, checks):
        return passes(self.plan.passes_done(checks))

    def _eta(self, done):
        ran = done - self.start
        if ran <= 0 or self._began is None:
            return ""
        left = (time.monotonic() - self._began) / ran * (self.epochs - done)
        return f"ETA {duration(left)}" if done < self.epochs else ""

    def _draw(self, done):
        self._drawn = time.monotonic()
        filled = int(BAR_WIDTH * done / self.epochs)
        bar = "=" * filled + ">" * (filled < BAR_WIDTH) + " " * (BAR_WIDTH - filled - 1)
        shown = min(int(self.plan.passes_done(done)) + 1, self.plan.passes)
        self._write(f"\r{self.phase} [{bar[:BAR_WIDTH]}] epoch "
                    f"{shown}/{self.plan.passes}  "
                    f"{metrics_text(self._logs)}  {self._eta(done)}\x1b[K")

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()
