"""Distil a teacher into a smaller student and report how much of the gap closes.

The same as `kzoo distill` (`python recipes/distill.py --help` lists every
option and its default); the run itself is `kzoo.run.distill`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("distill")
