"""TensorFlow's native start-up noise, filtered out of a command's stderr.

TensorFlow's C++ runtime writes to file descriptor 2 before and outside
Python's logging: the absl pre-initialisation warning, oneDNN and CUDA
banners on import (`TF_CPP_MIN_LOG_LEVEL` does not reach them), `cuInit`
errors on machines without a GPU, and oneDNN's fallback notices. None of
them is actionable for a user of kzoo. `filtered_stderr()` routes fd 2
through a pipe and drops exactly those lines; everything else (Python
tracebacks, real TensorFlow errors) passes unchanged. The Python-side
retracing warning Keras triggers when a run scores several new models is
dropped by a logging filter.

No TensorFlow import here: the filter must be in place before it.
"""

import contextlib
import logging
import os
import re
import sys
import threading

NOISE = re.compile(
    r"All log messages before absl::InitializeLog"
    r"|oneDNN custom operations are on"
    r"|oneDNN supports DT_\w+ only on platforms"
    r"|Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|TF-TRT Warning"
    r"|computation placer already registered"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|rebuild TensorFlow with the appropriate compiler flags"
    # kzoo reads the first 8 images of a training set for TensorBoard's
    # sample grid; where that set is a cache of recorded outputs (LwF,
    # distillation), TensorFlow warns that the partial cache is discarded.
    r"|The calling iterator did not fully read the dataset being cached"
)
RETRACING = "triggered tf.function retracing"


class _DropRetracing(logging.Filter):
    def filter(self, record):
        return RETRACING not in record.getMessage()


def drop_retracing_warnings():
    """Drop TensorFlow's "triggered tf.function retracing" warning: a run
    that trains and scores several models makes new predict functions by
    design, and the warning's advice does not apply."""
    logging.getLogger("tensorflow").addFilter(_DropRetracing())


@contextlib.contextmanager
def filtered_stderr():
    """Route file descriptor 2 through a filter dropping `NOISE` lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:  # no usable fd 2: leave it alone
        yield
        return
    os.dup2(write_end, 2)
    os.close(write_end)
    pump = threading.Thread(target=_pump, args=(read_end, saved), daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump ends
        pump.join(timeout=5)
        os.close(saved)


def _pump(read_end, target):
    with os.fdopen(read_end, "rb") as lines:
        for line in lines:
            if not NOISE.search(line.decode("utf-8", "replace")):
                os.write(target, line)
