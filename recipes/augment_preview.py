"""Write a PNG grid of originals next to several augmented draws of them.

The same as `kzoo augment-preview` (`python recipes/augment_preview.py --help` lists every
option and its default); the run itself is `kzoo.run.augment_preview`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("augment-preview")
