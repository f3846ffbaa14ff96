"""kzoo: a Keras 3 model zoo for label-efficient image classification.

Subpackages load on first use (`kzoo.models`, `kzoo.create_model`, ...), so
that `import kzoo.cli` and `kzoo --help` do not import TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "layers": ("kzoo.layers", None),
    "models": ("kzoo.models", None),
    "create_model": ("kzoo.models", "create_model"),
    "list_models": ("kzoo.models", "list_models"),
}

__all__ = ["layers", "models", "create_model", "list_models", "__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'kzoo' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)
