"""Writing a trained model in other formats: `kzoo export`."""

import os

from kzoo.errors import KzooError
from kzoo.export import KERAS_MODEL_FILE, output_classes
from kzoo.export.card import recorded_class_names
from kzoo.export.portable import check_dependencies
from kzoo.outputs import check_output_folder
from kzoo.run import progress
from kzoo.run.exporting import write_exports
from kzoo.run.result import RunResult
from kzoo.training import load_model_source


def export(config):
    """Write --model in each --format under --out (default: next to it).

    Returns:
        `RunResult` whose `report` maps each format to the path written
        (and `card` to `model_card.json`).

    Raises:
        KzooError: No model at --model; a package a --format needs
            missing, --out a file, in a missing folder, or not writable
            (checked before the model is loaded and anything is written); a
            write that fails (a full disk) names the file, and leaves no
            part of it.
    """
    model_file, run_dir = locate_model(config.model)
    check_dependencies(config.format, "--format")
    out = os.path.abspath(config.out or run_dir)
    check_output_folder(out, "--out")
    model = load_model_source(model_file)  # kzoo's layers registered
    class_names = config.class_names or recorded_class_names(
        os.path.dirname(model_file), run_dir)
    if class_names is None:
        class_names = [str(i) for i in range(model.output_shape[-1])]
        progress.say(f"class names: none recorded next to {model_file}; using "
                     f"0..{len(class_names) - 1} (--class-names sets them)")
    try:
        output_classes(model, class_names)
    except ValueError as err:
        raise KzooError(f"{err} (--class-names)") from None
    os.makedirs(out, exist_ok=True)
    progress.say(f"model: {model_file}; {model.name}, input "
                 f"{'x'.join(map(str, model.input_shape[1:]))}")
    written = write_exports(model, config.format, out, class_names,
                            flag="--format")
    for name, path in written.items():
        progress.say(f"  {name:<10} {path} ({_size(path)})")
    return RunResult("export", out, None, written.get("savedmodel"),
                     report=written, model=model)


def locate_model(path):
    """`(the .keras file, the run folder)` of a run folder, a kzoo
    SavedModel version folder or a `.keras` file.

    Raises:
        KzooError: None of these is at `path`.
    """
    path = os.path.abspath(path)
    if os.path.isfile(path) and path.endswith(".keras"):
        return path, os.path.dirname(path)
    if os.path.isdir(path):
        version = os.path.join(path, KERAS_MODEL_FILE)
        if os.path.isfile(version):
            return version, os.path.dirname(path)
        run = os.path.join(path, "model.keras")
        if os.path.isfile(run):
            return run, path
    raise KzooError(
        "Expected a kzoo run folder (holding model.keras), a kzoo SavedModel "
        "version folder (holding assets.extra/model.keras) or a .keras file. "
        f"Received: --model {path}")


def _size(path):
    if os.path.isdir(path):
        total = sum(os.path.getsize(os.path.join(root, name))
                    for root, _, files in os.walk(path) for name in files)
    else:
        total = os.path.getsize(path)
    return f"{total / 1e6:.2f} MB" if total >= 1e5 else f"{total / 1e3:.1f} kB"
