"""`kzoo export`: its options and description (TensorFlow-free; the run
is `kzoo.run.export.export`)."""

from kzoo.run import types as t
from kzoo.run.options import (
    Opt,
    command,
)

COMMAND = command(
    "export", "export a trained model as SavedModel, LiteRT or ONNX",
    """Export a trained model as a SavedModel, LiteRT (.tflite) or ONNX file.

  kzoo export --model saved_models/lenet5-digits --format litert,onnx
  kzoo export --model model.keras --format savedmodel --out serving/lenet5

--model is a run folder, a SavedModel version folder of kzoo or a .keras
file; the class names come from the run's config.json (else --class-names,
else 0, 1, ...). Files go to --out (default: the run folder, or the folder
holding the .keras file); model_card.json there gives each format's input
contract (layout, dtype, value range, size) and outputs.""",
    "kzoo.run.export:export",
    Opt("model", required=True,
      help="run folder, kzoo SavedModel version folder or .keras file"),
    Opt("format", ["litert"], t.export_formats,
      "savedmodel, keras, litert, onnx (comma-separated)"),
    Opt("out", help="output folder (default: next to --model)"),
    Opt("class_names", type=t.name_list,
      help="class names in the model's output order (default: the run's)"),
    Opt("smoke", False, kind="switch", help="the same (export is quick)"),
)
