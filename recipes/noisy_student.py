"""Noisy Student self-training: a few labels, many unlabelled images, R rounds.

The same as `kzoo noisy-student` (`python recipes/noisy_student.py --help` lists every
option and its default); the run itself is `kzoo.run.noisy_student`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("noisy-student")
