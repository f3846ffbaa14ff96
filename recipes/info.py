"""Print a model's per-layer receptive field, output size, parameters and MACs.

    python recipes/info.py --model vgg16
    python recipes/info.py --model alexnet --input-size 227 --num-classes 10
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kzoo import cli  # noqa: E402
from kzoo.analysis import format_table, layer_table  # noqa: E402
from kzoo.models import create_model, get_model_entry, list_models  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help=f"one of {list_models()}")
    p.add_argument("--input-size", type=cli.positive_int, default=None)
    p.add_argument("--channels", type=int, choices=(1, 3), default=None)
    p.add_argument("--num-classes", type=cli.positive_int, default=1000)
    p.add_argument("--width", type=cli.positive_float, default=None)
    args = cli.parse_args(p, argv)
    default = get_model_entry(args.model).default_input_shape
    size = args.input_size or default[0]
    shape = (size, size, args.channels or default[2])
    kwargs = {} if args.width is None else {"width": args.width}
    model = create_model(args.model, num_classes=args.num_classes,
                         input_shape=shape, **kwargs)
    print(f"{model.name}: input {shape}, {args.num_classes} classes")
    print(format_table(layer_table(model)))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
