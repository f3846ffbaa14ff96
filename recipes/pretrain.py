"""Train a self-supervised encoder (SimCLR) on unlabelled images.

The same as `kzoo pretrain` (`python recipes/pretrain.py --help` lists
every option and its default); the run itself is `kzoo.run.pretrain`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("pretrain")
