"""Search RandAugment's (N, M): train briefly per pair, score on validation.

The same as `kzoo search` (`python recipes/randaugment_search.py --help` lists every
option and its default); the run itself is `kzoo.run.search`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("search")
