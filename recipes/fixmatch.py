"""FixMatch (Sohn et al. 2020), FlexMatch and distribution alignment as options.

The same as `kzoo fixmatch` (`python recipes/fixmatch.py --help` lists every
option and its default); the run itself is `kzoo.run.fixmatch`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("fixmatch")
