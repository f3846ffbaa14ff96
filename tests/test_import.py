"""`import kzoo` registers every serializable kzoo object with Keras, in
whichever order Keras and kzoo are imported, while `import kzoo.cli` (what
`kzoo --help` runs) imports neither Keras nor TensorFlow.

Each check runs in a fresh interpreter: in this one, the suite has long
since imported every kzoo module.
"""

import glob
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from kzoo import run
from kzoo.augment import AugmentPolicy
from kzoo.models import create_model
from tests.run.helpers import ROOT, SMOKE, saved_lenet

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def python(code, *argv):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *argv],
                          check=False, capture_output=True, text=True, cwd=ROOT, env=ENV,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def registered_after(imports):
    """The `kzoo>` names Keras knows after `imports` in a fresh process."""
    out = python(imports + textwrap.dedent("""
        import keras
        print(*sorted(k for k in keras.saving.get_custom_objects()
                      if k.startswith("kzoo>")))
    """))
    return set(out.split())


def every_serializable():
    """The `kzoo>` names registered once every kzoo module is imported."""
    return registered_after(
        "import importlib, pkgutil, kzoo\n"
        "for m in pkgutil.walk_packages(kzoo.__path__, 'kzoo.'):\n"
        "    importlib.import_module(m.name)")


@pytest.mark.large
def test_import_kzoo_registers_every_serializable_object_in_any_order():
    expected = every_serializable()
    assert {"kzoo>Dropout", "kzoo>LocalResponseNormalization", "kzoo>AugmentPolicy",
            "kzoo>RandAugment", "kzoo>LRMultiplierOptimizer"} <= expected
    # kzoo first, Keras first, a kzoo package that imports Keras itself, and
    # TensorFlow first (its import asks whether Keras exists, importing nothing)
    for imports in ("import kzoo", "import keras, kzoo", "import kzoo.models",
                    "import tensorflow, kzoo"):
        assert registered_after(imports) == expected, imports


def test_import_kzoo_cli_imports_neither_keras_nor_tensorflow():
    out = python("""
        import sys
        import kzoo, kzoo.cli
        print(sorted(m for m in sys.modules
                     if m.split(".")[0] in ("keras", "tensorflow")))
    """)
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """One `.keras` file of each kind kzoo writes or a user builds."""
    base = tmp_path_factory.mktemp("keras-kinds")
    run.run("train", out=str(base / "train"), **SMOKE)  # exports keras
    files = {"plain": os.path.join(base, "train", "smoke", "model.keras")}
    # a model with an augmentation policy inside (kzoo layers in kzoo layers)
    keras.utils.set_random_seed(0)
    network = create_model("lenet5", num_classes=3, input_shape=(32, 32, 1))
    inputs = keras.Input((32, 32, 1))
    policy = AugmentPolicy("crop,randaugment(n=2,m=10),cutout", (32, 32), 3, seed=0)
    with_policy = keras.Model(inputs, network(policy(inputs)))
    files["policy"] = str(base / "policy.keras")
    with_policy.save(files["policy"])
    run.run("fixmatch", out=str(base / "fm"), **SMOKE)  # exports keras
    files["fixmatch"] = os.path.join(base, "fm", "smoke", "model.keras")
    run.run("lwf", old_model=saved_lenet(base / "old.keras", 5),
            old_classes="0,1,2,3,4", classes="5,6,7,8,9", method="lwf",
            out=str(base / "lwf"), **SMOKE)
    lwf = sorted(glob.glob(os.path.join(base, "lwf", "**", "model.keras"),
                           recursive=True))
    assert lwf, "lwf wrote no model.keras"
    files["lwf"] = lwf[0]
    return files


@pytest.mark.large
@pytest.mark.parametrize("imports", ["import kzoo; import keras",
                                     "import keras; import kzoo"])
def test_every_keras_kind_loads_after_import_kzoo_only(keras_files, imports):
    out = python(f"import sys; {imports}" + textwrap.dedent("""
        for path in sys.argv[1:]:
            model = keras.models.load_model(path)  # safe mode, no custom_objects
            names = sorted(type(layer).__name__ for layer in model._flatten_layers())
            print(path, len(model.outputs), *names)
    """), *keras_files.values())
    lines = dict(zip(keras_files, out.splitlines()))
    assert len(lines) == 4
    assert "Dropout" in lines["plain"]
    assert "AugmentPolicy" in lines["policy"] and "RandAugment" in lines["policy"]
    assert lines["lwf"].split()[1] == "2"  # the two heads: old and new task
