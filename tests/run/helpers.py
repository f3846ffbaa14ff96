"""Run techniques in-process, as the library and the `kzoo` command do."""

import json
import os
import re
import subprocess
import sys

from kzoo import cli, run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# No XLA and one step per graph call: the quickest start of a tiny run.
FAST = dict(jit_compile=False, steps_per_execution=1)
# A --smoke run without XLA: the wiring, fast. It exports only `keras`
# (model.keras): a test that checks a SavedModel asks for it, e.g.
# `**dict(SMOKE, export=["savedmodel"])`, or `*SMOKE_FLAGS, "--export",
# "savedmodel"` (a list flag given again adds one whole item per flag:
# keras and savedmodel; never "savedmodel,onnx", nor keras again: each once).
SMOKE = dict(smoke=True, export=["keras"], **FAST)
SMOKE_FLAGS = ["--smoke", "--export", "keras", "--no-jit-compile",
               "--steps-per-execution", "1"]
# The commands' own default --export: a SavedModel version and model.keras,
# for a smoke test that checks the SavedModel (`**dict(SMOKE, export=SERVED)`).
SERVED = ["savedmodel", "keras"]
RAW_FLOAT = re.compile(r"\d\.\d{6,}")  # 0.9401349072512648: not for people


def read_json(*parts):
    with open(os.path.join(*parts)) as f:
        return json.load(f)


def saved_lenet(path, num_classes):
    """A LeNet-5 for 32x32 grey images saved as `.keras` (an untrained source)."""
    import keras

    from kzoo.models import create_model

    keras.utils.set_random_seed(0)
    create_model("lenet5", num_classes=num_classes, input_shape=(32, 32, 1)).save(path)
    return str(path)


def smoke_dir(out):
    """Where a `--smoke` run given `--out out` writes (never `out` itself)."""
    return os.path.join(out, "smoke")


def kzoo(capsys, *argv):
    """`kzoo *argv` in this process: `(exit status, stdout, stderr)`."""
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def flags(**values):
    """Keyword values as command-line flags: `flags(batch_size=8, smoke=True,
    jit_compile=False)` -> `['--batch-size', '8', '--smoke', '--no-jit-compile']`."""
    argv = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + flag[2:])
        else:
            argv += [flag, str(value)]
    return argv


def one_error_line(err):
    """The single `error: ...` line a refused command writes to stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def weights_of(out):
    """The weights of the `model.keras` a run wrote to `out`."""
    import keras

    return keras.models.load_model(os.path.join(out, "model.keras")).get_weights()


def score_export(version_dir, **options):
    """Test accuracy of an export, as `kzoo evaluate` scores it."""
    return run.run("evaluate", model=version_dir, **options).test_accuracy


_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'kzoo', *sys.argv[1:]])")


def start_kzoo(*argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **env):
    """`python -m kzoo *argv` in a new process, not waited for (`Popen`);
    for tests where the process boundary is the point (kill and resume,
    several workers). Extra environment in `env`.

    The process starts with SIGINT's default action, as from a terminal:
    a process started in the background by a non-interactive shell (CI
    runners, `cmd &` in a script) inherits SIGINT *ignored*, Python then
    installs no KeyboardInterrupt handler, and a test that sends SIGINT
    would see a run that never stops. `exec` keeps an ignored signal
    ignored, so the small launcher restores the default and then becomes
    `python -m kzoo` (same pid)."""
    return subprocess.Popen(
        [sys.executable, "-c", _WITH_DEFAULT_SIGINT, *map(str, argv)],
        stdout=stdout,
        stderr=stderr, text=True, cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
    )


def run_kzoo(*argv, cwd=None, timeout=600, **env):
    """`python -m kzoo *argv` in a new process, waited for."""
    return subprocess.run(
        [sys.executable, "-m", "kzoo", *map(str, argv)], capture_output=True,
        text=True, cwd=cwd or ROOT, timeout=timeout,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
    )
