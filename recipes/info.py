"""Print a model's per-layer receptive field, output size, parameters and MACs.

The same as `kzoo info` (`python recipes/info.py --help` lists every
option and its default); the run itself is `kzoo.run.info`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("info")
