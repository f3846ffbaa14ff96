"""Custom Keras layers shipped by kzoo (all registered for serialization)."""

from kzoo.layers.channels import ReverseChannels
from kzoo.layers.dropout import Dropout
from kzoo.layers.lrn import LocalResponseNormalization

__all__ = ["Dropout", "LocalResponseNormalization", "ReverseChannels"]
