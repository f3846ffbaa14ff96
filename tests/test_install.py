"""kzoo as an installed tool: a `pip install` (not editable) into a fresh
virtualenv gives a `kzoo` command whose every subcommand runs (a --smoke
run each) from a folder outside the source tree.

The virtualenv sees the site-packages of the environment running the tests
(TensorFlow and the other dependencies are not downloaded again: tests
never use the network), through a `.pth` file, not `--system-site-packages`:
made from a virtualenv's interpreter, that would see the base Python's
packages instead, and miss the test environment's. It gets kzoo itself as a
built wheel, not a link to this checkout, built with the test environment's
own setuptools and wheel (`--no-build-isolation`), which the test extra
declares.
"""

import concurrent.futures
import importlib.util
import os
import shutil
import site
import subprocess
import sys
import sysconfig

import pytest

from kzoo.testing.images import make_image_folder

pytestmark = pytest.mark.large  # a fresh virtualenv and a wheel: minutes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_SHIPPED = shutil.ignore_patterns(".git", "saved_models", "build", "*.egg-info",
                                     "__pycache__", ".pytest_cache", "tests",
                                     "benchmarks", ".venv", "venv")


def environment_site_packages():
    """The site-packages folders of the environment running the tests (a
    virtualenv's own, plus the base ones if it was made to see them)."""
    folders = site.getsitepackages() + [sysconfig.get_paths()["purelib"],
                                        sysconfig.get_paths()["platlib"]]
    return list(dict.fromkeys(f for f in folders if os.path.isdir(f)))


def make_venv(env_dir):
    """A virtualenv without pip of its own that imports this environment's
    packages (pip, setuptools, TensorFlow, ...) after its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)],
                   check=True)
    python = env_dir / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(own, "_test_environment.pth"), "w") as f:
        f.write("\n".join(environment_site_packages()) + "\n")
    return python


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)
    env_dir = base / "venv"
    python = make_venv(env_dir)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", str(source)],
        check=False, capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    shutil.rmtree(source)  # the installed copy must not need its source
    work = base / "elsewhere"
    work.mkdir()
    return env_dir, work


def kzoo(venv, *argv):
    env_dir, work = venv
    done = subprocess.run(
        [str(env_dir / "bin" / "kzoo"), *map(str, argv)], cwd=work,
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH="", TF_CPP_MIN_LOG_LEVEL="2"))
    assert done.returncode == 0, (
        f"kzoo {' '.join(map(str, argv))} exited {done.returncode}\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout, done.stderr


def test_the_installed_package_is_the_wheel_not_this_checkout(venv):
    env_dir, work = venv
    done = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c",
         "import kzoo.cli, kzoo.run; print(kzoo.cli.__file__)"],
        cwd=work, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=""))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(env_dir)), done.stdout
    stdout, _ = kzoo(venv, "--help")
    assert "noisy-student" in stdout and "label-budget" in stdout


def test_every_subcommand_runs_a_smoke_run_outside_the_clone(venv):
    _, work = venv
    old = work / "old"  # a model of classes 0-4, the source of lwf/transfer
    new_images = make_image_folder(str(work / "new"), classes=("x",), per_class=3,
                                   size=20, splits=("unsorted",))
    labelled = make_image_folder(str(work / "labelled"), classes=("a", "b"),
                                 per_class=4, size=20)
    # the extras' format when the test extra installed it, else the core one
    portable = "litert" if importlib.util.find_spec("ai_edge_litert") else "keras"
    runs = {
        "train": ["--classes", "0,1,2,3,4", "--out", old],
        "evaluate": ["--model", old / "smoke", "--classes", "0,1,2,3,4"],
        "predict": ["--model", old / "smoke", "--data", new_images,
                    "--out", work / "predictions.csv"],
        "export": ["--model", old / "smoke", "--format", portable,
                   "--out", work / "exported"],
        "info": ["--model", "lenet5"],
        "augment-preview": ["--out", work / "preview.png"],
        "pseudo-label": ["--out", work / "pl"],
        "fixmatch": ["--out", work / "fm"],
        "noisy-student": ["--rounds", "1", "--out", work / "ns"],
        "distill": ["--teacher-width", "0.125", "--out", work / "distill"],
        "lwf": ["--old-model", old / "smoke" / "model.keras",
                "--old-classes", "0,1,2,3,4", "--classes", "5,6,7,8,9",
                "--method", "lwf", "--out", work / "lwf"],
        "transfer": ["--source", old / "smoke" / "model.keras",
                     "--classes", "5,6,7,8,9", "--out", work / "transfer"],
        "search": ["--trials", "1", "--out", work / "search"],
        "label-budget": ["--budgets", "5", "--seeds", "0", "--techniques",
                         "supervised", "--out", work / "budget"],
        "pretrain": ["--batch-size", "16", "--out", work / "pretrain"],
        "select": ["--data", new_images, "--budget", "2",
                   "--out", work / "pick.csv"],
        # after select, in the same lane: the page of its queue, one request
        "label": ["--data", new_images, "--queue", work / "pick.csv",
                  "--classes", "a,b", "--port", "0"],
        "audit": ["--data", labelled, "--out", work / "audit.csv",
                  "--runs", work / "audit-runs"],
    }
    from kzoo.run import COMMANDS

    assert sorted(runs) == sorted(COMMANDS)
    # XLA is tested in-process elsewhere; here the point is the package.
    no_xla = {"train", "pseudo-label", "fixmatch", "noisy-student", "distill", "lwf",
              "transfer", "search", "pretrain", "audit"}
    # Two lanes at once (each command is one process, mostly waiting on
    # Python): the model lwf/transfer/evaluate need, then the rest.
    chain = ["train", "evaluate", "predict", "export", "lwf", "transfer"]
    lanes = [chain, [name for name in runs if name not in chain]]
    outputs = {}

    def run_lane(names):
        for name in names:
            argv = runs[name] + (["--no-jit-compile"] if name in no_xla else [])
            stdout, stderr = kzoo(venv, name, "--smoke", *argv)
            outputs[name] = stdout
            assert "cuInit" not in stderr, stderr
            assert "oneDNN custom operations" not in stderr, stderr

    with concurrent.futures.ThreadPoolExecutor(len(lanes)) as pool:
        for lane in [pool.submit(run_lane, names) for names in lanes]:
            lane.result()  # re-raises a lane's failure
    assert sorted(outputs) == sorted(runs)
    assert (old / "smoke" / "1" / "saved_model.pb").is_file()
    assert "test accuracy" in outputs["evaluate"]
    assert (work / "predictions.csv").is_file()
    assert (work / "exported" / "model_card.json").is_file()
    assert (work / "preview.png").is_file()
    for name in ("pl", "ns", "search"):
        assert (work / name / "smoke" / "config.json").is_file(), name
    assert (work / "budget" / "smoke" / "report.json").is_file()
    assert (work / "pretrain" / "smoke" / "model.keras").is_file()
    assert (work / "pick.csv").is_file() and (work / "pick.png").is_file()
    assert "answered 2 images to label" in outputs["label"]
    assert (work / "audit.csv").is_file() and (work / "audit.png").is_file()
