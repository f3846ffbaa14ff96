"""Load `keras.applications` weight files into kzoo models, layer by layer."""

import re

import h5py
import numpy as np

_CLASS_KEYS = {"Conv2D": "conv2d", "Dense": "dense"}


def load_keras_applications_weights(model, filepath):
    """Copy the weights of a `keras.applications` file into a kzoo model.

    Supports the Keras 3 `.weights.h5` format (layers keyed by class and
    order: `conv2d`, `conv2d_1`, ..., `dense`, ...) and the legacy `.h5`
    format (full model or weights only; layers keyed by name, e.g.
    `block1_conv1`). The kzoo model must have the same weighted layers
    (e.g. `kzoo.models.vgg16` for `keras.applications.VGG16`); layers without
    weights (preprocessing, dropout) are ignored.

    Args:
        model: The kzoo `keras.Model` to fill.
        filepath: Path of the `.h5` or `.weights.h5` file.

    Raises:
        ValueError: When a layer is missing from the file or a shape differs.
    """
    targets = [layer for layer in model.layers if layer.weights]
    with h5py.File(filepath, "r") as f:
        if "layers" in f and "model_weights" not in f:
            values = _keras3_values(f["layers"], targets)
        else:
            root = f["model_weights"] if "model_weights" in f else f
            values = [_legacy_values(root, layer) for layer in targets]
    for layer, arrays in zip(targets, values):
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if expected != got:
            raise ValueError(
                f"Weight shapes differ for layer '{layer.name}': the model has "
                f"{expected}, the file has {got}. Received: filepath={filepath}"
            )
        layer.set_weights(arrays)


def _keras3_values(group, targets):
    by_class = {}
    for key in group:
        match = re.fullmatch(r"([a-z0-9_]+?)(?:_(\d+))?", key)
        by_class.setdefault(match.group(1), []).append((int(match.group(2) or 0), key))
    queues = {cls: [k for _, k in sorted(keys)] for cls, keys in by_class.items()}
    values = []
    for layer in targets:
        if layer.name in group:
            key = layer.name
        else:
            cls = _CLASS_KEYS.get(type(layer).__name__)
            if not queues.get(cls):
                raise ValueError(
                    f"No weights for layer '{layer.name}' in the file "
                    f"(looked for '{layer.name}' and the next '{cls}')."
                )
            key = queues[cls].pop(0)
        vars_group = group[key]["vars"]
        values.append([np.asarray(vars_group[str(i)]) for i in range(len(vars_group))])
    return values


def _legacy_values(root, layer):
    if layer.name not in root:
        raise ValueError(f"No weights for layer '{layer.name}' in the file.")
    group = root[layer.name]
    names = [n.decode() if isinstance(n, bytes) else n
             for n in group.attrs.get("weight_names", [])]
    if not names:  # fall back to kernel before bias
        names = []
        group.visit(lambda n: names.append(n) if isinstance(group[n], h5py.Dataset)
                    else None)
        names.sort(key=lambda n: ("bias" in n, n))
    return [np.asarray(group[n]) for n in names]
