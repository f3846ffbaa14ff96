"""Export a trained model as a SavedModel, LiteRT or ONNX file.

The same as `kzoo export` (`python recipes/export.py --help` lists every
option and its default); the run itself is `kzoo.run.export`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("export")
