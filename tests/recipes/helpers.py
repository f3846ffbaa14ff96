"""Load the scripts in recipes/ as modules, and run them as a user would."""

import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_recipe(name):
    path = os.path.join(ROOT, "recipes", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_recipe(name, *args, cwd=None, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", f"{name}.py"), *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
    )


def start_recipe(name, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 **env):
    """`run_recipe` without waiting: the `Popen` (extra environment in `env`)."""
    return subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "recipes", f"{name}.py"), *args],
        stdout=stdout, stderr=stderr, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
    )


def smoke_dir(out):
    """Where a `--smoke` run given `--out out` writes (never `out` itself)."""
    return os.path.join(out, "smoke")


def weights_of(out):
    """The weights of the `model.keras` a recipe wrote to `out`."""
    import keras

    return keras.models.load_model(os.path.join(out, "model.keras")).get_weights()


def score_export(version_dir, capsys, *flags):
    """Test accuracy of an export as `recipes/evaluate.py` prints it."""
    from kzoo.cli import run_main

    capsys.readouterr()
    code = run_main(load_recipe("evaluate").main, ["--model", version_dir, *flags])
    output = capsys.readouterr().out
    assert code == 0, output
    return float(output.split("test accuracy ")[1].split()[0])
