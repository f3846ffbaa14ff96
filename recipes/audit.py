"""Find likely label errors: confident learning on out-of-fold predictions.

The same as `kzoo audit` (`python recipes/audit.py --help` lists every
option and its default); the run itself is `kzoo.run.audit`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("audit")
