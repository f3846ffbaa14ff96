"""A model's layers, receptive field, parameters and MACs: `kzoo info`."""

from kzoo.analysis import format_table, layer_table
from kzoo.errors import KzooError
from kzoo.models import (
    create_model,
    get_model_entry,
    list_models,
    pretrained_models,
)
from kzoo.run import progress
from kzoo.run.result import RunResult


def info(config):
    """Print --model's per-layer table (or, with --list, the registry).

    Returns:
        `RunResult` whose `report` holds the table rows (or the names).
    """
    if config.list or not config.model:
        if not config.list:
            raise KzooError("--model is required (or --list for the registered "
                            f"models: {list_models()})")
        return _list_models()
    entry = get_model_entry(config.model)
    size = config.input_size or entry.default_input_shape[0]
    shape = (size, size, config.channels or entry.default_input_shape[2])
    kwargs = {} if config.width is None else {"width": config.width}
    model = create_model(config.model, num_classes=config.num_classes,
                         input_shape=shape, **kwargs)
    rows = layer_table(model)
    progress.say(f"{model.name}: input {shape}, {config.num_classes} classes")
    progress.say(format_table(rows))
    return RunResult("info", report={"model": config.model, "layers": rows},
                     model=model)


def _list_models():
    names = list_models()
    width = max(map(len, names))
    imagenet = set(pretrained_models())
    family_width = max(len(get_model_entry(name).family) for name in names)
    for name in names:
        entry = get_model_entry(name)
        tunable = ", ".join(entry.tunable) or "-"
        progress.say(f"{name:<{width}} {entry.family:<{family_width}} input "
                     f"{'x'.join(map(str, entry.default_input_shape)):<11} "
                     f"run options: {tunable}"
                     + ("; --weights imagenet" if name in imagenet else ""))
    return RunResult("info", report={"models": names})
