"""kzoo: a Keras 3 model zoo for label-efficient image classification."""

from kzoo import layers, models
from kzoo.models import create_model, list_models

__version__ = "0.1.0"

__all__ = ["layers", "models", "create_model", "list_models", "__version__"]
