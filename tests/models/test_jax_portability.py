"""Model builders and layers hold no TensorFlow calls: every registered
model builds, predicts and trains one step on the JAX backend."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from tests.run.helpers import ROOT

SCRIPT = textwrap.dedent("""
    import sys

    import keras
    import numpy as np

    from kzoo.models import create_model, get_model_entry, list_models

    assert keras.backend.backend() == "jax", keras.backend.backend()
    rng = np.random.default_rng(0)
    for name in list_models():
        kwargs = {"num_classes": 3}
        if get_model_entry(name).accepts("width"):
            kwargs["width"] = 0.125  # the graph, not the size, is under test
        model = create_model(name, **kwargs)
        x = rng.uniform(0, 255, (4,) + model.input_shape[1:]).astype("float32")
        y = np.array([0, 1, 2, 1])
        logits = keras.ops.convert_to_numpy(model(x))
        assert logits.shape == (4, 3) and np.all(np.isfinite(logits)), name
        model.compile(keras.optimizers.SGD(0.01),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        before = [w.copy() for w in model.get_weights()]
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        after = model.get_weights()
        assert all(np.all(np.isfinite(w)) for w in after), name
        assert any(not np.array_equal(a, b) for a, b in zip(before, after)), name
        print("ok", name, flush=True)
    tf_modules = sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")
    assert not tf_modules, tf_modules  # not even imported
""")


@pytest.mark.large  # a JAX interpreter in a subprocess
@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed (pip install jax)")
def test_every_registered_model_builds_predicts_and_trains_on_jax():
    from kzoo.models import list_models

    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3",
               JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    done = [line.split()[1] for line in result.stdout.splitlines()
            if line.startswith("ok ")]
    assert done == list_models()
