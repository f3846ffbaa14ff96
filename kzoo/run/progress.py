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
import os
import shutil
import sys
import time

import keras

MAX_LOG_LINES = 10
BAR_WIDTH = 24
REDRAW_SECONDS = 0.2


def say(text=""):
    """Print one line of the run's story (flushed: logs stay in order)."""
    print(text, flush=True)


def note(text, stream=None):
    """A line said during a phase (a warning): on a terminal it replaces
    the progress line, which is redrawn below it at the next update."""
    stream = stream or sys.stdout
    clear = "\r\x1b[K" if getattr(stream, "isatty", lambda: False)() else ""
    stream.write(f"{clear}{text}\n")
    stream.flush()


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
# A semi-supervised run's class warnings (`kzoo.semi_supervised.collapse`):
# shown while there are any.
WARNINGS = "collapse_warnings"


def metrics_text(logs):
    logs = logs or {}
    parts = [f"{k} {logged(k, logs[k])}" for k in SHOWN if k in logs]
    if logs.get(WARNINGS):
        count = int(logs[WARNINGS])
        parts.append(f"CLASS WARNING{'S' * (count > 1)} {count}")
    return "  ".join(parts)


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


def length(plan):
    """How long a `FitPlan`'s run is, in its own unit: '1000 epochs' (a
    run of whole passes), '4,000 steps' (a step budget)."""
    if plan.budget:
        return f"{plan.budget:,} steps"
    return f"{passes(plan.passes)} epoch{'s' * (plan.passes != 1)}"


def done(plan, checks):
    """How much of a `FitPlan`'s run `checks` checks are, in its unit."""
    if plan.budget:
        return f"{int(round(plan.steps_done(checks))):,}"
    return passes(plan.passes_done(checks))


def fit_line(text, width):
    """`text` cut at the last two-space field boundary that fits `width`
    columns (whole fields, never half a number), or hard-cut when even its
    first field does not."""
    if len(text) <= width:
        return text
    cut = text.rfind("  ", 0, width + 2)
    return text[:cut] if cut > 0 else text[:width]


def terminal_width(stream):
    """Columns of the terminal `stream` writes to (80 when unknown)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns


class PhaseProgress(keras.callbacks.Callback):
    """One progress bar over every check of a `fit` call, counted in
    epochs (passes over the data), or in steps for a step budget (a check
    is one Keras epoch, see `kzoo.training.plan`).

    On a terminal the line is redrawn in place and fits its width: the
    phase, the bar, where the run is and the ETA come first, then as many
    whole metrics as fit. In a file or pipe it prints the first check
    (the first ETA) and then at most `MAX_LOG_LINES` lines, uncut.

    Args:
        phase: Its name (`teacher`, `round 2 student`).
        plan: The fit's `FitPlan`.
        start: Checks already done (a resumed run).
        stream: Where to write (default `sys.stdout`).
        interactive: Redraw in place; default: whether `stream` is a terminal.
        width: Columns of a redrawn line (default: the terminal's, read at
            every redraw).
    """

    def __init__(self, phase, plan, start=0, stream=None, interactive=None,
                 width=None):
        super().__init__()
        self.phase = phase
        self.plan = plan
        self.epochs = plan.epochs
        self.start = start
        self.stream = stream or sys.stdout
        if interactive is None:
            interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interactive = interactive
        self.width = width
        self.every = max(1, math.ceil((self.epochs - start) / MAX_LOG_LINES))
        self._began = None
        self._drawn = 0.0
        self._epoch = start
        self._logs = {}
        self._estimate = None  # (time, checks) after the first graph call

    # Seconds of training (after the first graph call, which traces) that
    # the up-front estimate of a log is measured over.
    ESTIMATE_SECONDS = 2.0

    def on_train_begin(self, logs=None):
        self._began = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not self.interactive and self._estimate is not False:
            self._say_estimate(self._epoch + (batch + 1) / self.plan.steps_per_epoch)
        if self.interactive and time.monotonic() - self._drawn > REDRAW_SECONDS:
            self._logs.update(logs or {})
            self._draw(self._epoch + (batch + 1) / self.plan.steps_per_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._logs = dict(logs or {})
        finished = epoch + 1
        if self.interactive:
            self._draw(finished)
        elif finished < self.epochs and (
                finished == self.start + 1
                or (finished - self.start) % self.every == 0):
            fields = [f"{self.phase}: {self._where(finished)}",
                      self._eta(finished), metrics_text(self._logs)]
            self._write("  ".join(f for f in fields if f) + "\n")

    def on_train_end(self, logs=None):
        if self.interactive:
            self._write("\n")
        elapsed = time.monotonic() - (self._began or time.monotonic())
        first, last = self.start, self._epoch + 1
        ran = self.plan.passes_done(last) - self.plan.passes_done(first)
        ran_text = f"{passes(ran)} epoch{'s' * (ran != 1)}"
        if self.plan.budget:
            steps = self.plan.steps_done(last) - self.plan.steps_done(first)
            ran_text = f"{steps:,} steps ({ran_text})"
        self._write(f"{self.phase}: {ran_text} in {duration(elapsed)}; "
                    f"{metrics_text(self._logs)}\n")

    def _say_estimate(self, checks):
        """In a log, once: about how long the phase takes, measured over
        its first `ESTIMATE_SECONDS` after the first graph call (which
        traces), long before the first check's line."""
        now = time.monotonic()
        if self._estimate is None:
            self._estimate = (now, checks)
            return
        began, first = self._estimate
        if now - began < self.ESTIMATE_SECONDS or checks >= self.epochs:
            return
        self._estimate = False
        left = (now - began) / (checks - first) * (self.epochs - checks)
        what = "left of" if self.start else "for"
        self._write(f"{self.phase}: about {duration(now - self._began + left)} "
                    f"{what} {length(self.plan)} (at the speed of the first "
                    "steps)\n")

    def _where(self, checks):
        """'epoch 12/100' or 'step 1,200/4,000' after `checks` (a float
        inside a check)."""
        if self.plan.budget:
            step = min(int(round(self.plan.steps_done(checks))), self.plan.budget)
            return f"step {step:,}/{self.plan.budget:,}"
        if self.interactive:  # the epoch under way
            shown = min(int(self.plan.passes_done(checks)) + 1, self.plan.passes)
            return f"epoch {shown}/{self.plan.passes}"
        return f"epoch {passes(self.plan.passes_done(checks))}/{self.plan.passes}"

    def _eta(self, checks):
        ran = checks - self.start
        if ran <= 0 or self._began is None or checks >= self.epochs:
            return ""
        left = (time.monotonic() - self._began) / ran * (self.epochs - checks)
        return f"ETA {duration(left)}"

    def _draw(self, checks):
        self._drawn = time.monotonic()
        # One column spare: a line as wide as the terminal wraps the cursor.
        width = max((self.width or terminal_width(self.stream)) - 1, 1)
        where, eta = self._where(checks), self._eta(checks)
        essential = len(f"{self.phase} [] {where}  {eta}")
        size = min(BAR_WIDTH, width - essential)
        bar = ""
        if size >= 5:  # a narrower bar says nothing: phase, count and ETA
            filled = int(size * checks / self.epochs)
            bar = " [" + ("=" * filled + ">" + "." * size)[:size] + "]"
        fields = [f"{self.phase}{bar} {where}", eta, metrics_text(self._logs)]
        line = "  ".join(f for f in fields if f)
        self._write(f"\r{fit_line(line, width)}\x1b[K")

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()
