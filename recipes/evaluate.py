"""Score an exported SavedModel through its `serving_default` signature.

The same as `kzoo evaluate` (`python recipes/evaluate.py --help` lists every
option and its default); the run itself is `kzoo.run.evaluate`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("evaluate")
