"""`kzoo info`: its options and description (TensorFlow-free; the run
is `kzoo.run.info.info`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    Opt,
    command,
)

COMMAND = command(
    "info", "a model's receptive field, output size, parameters and MACs",
    """Print a model's per-layer receptive field, output size, parameters and MACs.

  kzoo info --model vgg16
  kzoo info --model alexnet --input-size 227 --num-classes 10
  kzoo info --list                                  # registered models""",
    "kzoo.run.info:info",
    Opt("model", help="registered model name"),
    Opt("list", False, kind="switch", help="list the registered models"),
    Opt("input_size", type=t.input_size, help="default: the model's"),
    Opt("channels", type=int, choices=(1, 3), help="default: the model's"),
    Opt("num_classes", 1000, t.classes),
    Opt("width", type=t.width, help="default: the builder's"),
    Opt("smoke", False, kind="switch", help="the same (info is fast)"),
)
