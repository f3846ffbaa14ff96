"""kzoo: a Keras 3 model zoo for label-efficient image classification.

`import kzoo` registers every serializable kzoo object (layers, augmentation
layers, optimizers) with Keras, so `keras.models.load_model("model.keras")`
loads kzoo models without `custom_objects`, as keras-hub's import does.

Keras itself is imported only when something needs it: `kzoo --help` and
`import kzoo.cli` import neither Keras nor TensorFlow. If Keras is already
imported, `import kzoo` registers at once; if not, the registration runs the
moment Keras finishes importing, whoever imports it (`import kzoo; import
keras` works as well as `import keras, kzoo`). Subpackages load on first use
(`kzoo.models`, `kzoo.create_model`, ...).
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

_LAZY = {
    "layers": ("kzoo.layers", None),
    "models": ("kzoo.models", None),
    "create_model": ("kzoo.models", "create_model"),
    "list_models": ("kzoo.models", "list_models"),
}

__all__ = ["layers", "models", "create_model", "list_models", "__version__"]

# The modules holding `register_keras_serializable` classes. Each imports
# only Keras and modules of its own package (never another kzoo package), so
# importing them the moment Keras is ready cannot meet a half-imported kzoo
# module; none needs TensorFlow (kzoo's layers also run on JAX).
SERIALIZABLE_MODULES = ("kzoo.layers", "kzoo.augment", "kzoo.training.optimizers")


def register_serializables():
    """Import the modules whose classes Keras must find by name
    (`"kzoo>Dropout"`, ...). Idempotent; imports Keras."""
    for name in SERIALIZABLE_MODULES:
        importlib.import_module(name)


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when `keras` is looked up, it hands back the
    real spec with its loader wrapped, so that `register_serializables` runs
    once `keras` has executed. A look-up that only asks whether Keras
    exists (TensorFlow's does) imports nothing, so the finder stays in
    `sys.meta_path` until Keras really executes."""

    def __init__(self):
        self._looking = False

    def find_spec(self, name, path=None, target=None):
        if name != "keras" or self._looking:
            return None
        self._looking = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self._looking = False
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            _remove_hook()
            execute(module)
            register_serializables()

        spec.loader.exec_module = exec_module
        return spec


def _remove_hook():
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not isinstance(f, _RegisterAfterKeras)]


if "keras" in sys.modules:
    register_serializables()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'kzoo' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)
