"""Load weights into kzoo models, layer by layer: `keras.applications` files
(all layers, or the convolutional backbone only) and trained Keras models."""

import re

import h5py
import keras
import numpy as np

from kzoo.errors import KzooError
from kzoo.models.applications import BACKBONE
from kzoo.models.depthwise import grouped_kernel_as_depthwise
from kzoo.models.heads import FEATURE_LAYERS
from kzoo.models.registry import model_entry_of

_CLASS_KEYS = {"Conv2D": "conv2d", "Dense": "dense"}


def load_keras_applications_weights(model, filepath, layers=None):
    """Copy the weights of a `keras.applications` file into a kzoo model.

    Supports the Keras 3 `.weights.h5` format (layers keyed by class and
    order: `conv2d`, `conv2d_1`, ..., `dense`, ...) and the legacy `.h5`
    format (full model or weights only, as the ImageNet files; layers keyed
    by name, e.g. `block1_conv1`). The kzoo model must have the same
    weighted layers (e.g. `kzoo.models.vgg16` for `keras.applications.VGG16`);
    layers without weights (preprocessing, dropout) are ignored, and so are
    layers of the file the model lacks (the classifier of a with-top file
    loaded into a model without top).

    Args:
        model: The kzoo `keras.Model` to fill.
        filepath: Path of the `.h5` or `.weights.h5` file.
        layers: Names of the model's layers to load (None: every layer with
            weights); the others keep their weights. In the `.weights.h5`
            format they must be the first weighted layers (the file is read
            in order).

    Raises:
        KzooError: When a layer is missing from the file or a shape differs,
            or `layers` names a layer the model lacks (a `ValueError`).
    """
    targets = _targets(model, layers)
    with h5py.File(filepath, "r") as f:
        if "layers" in f and "model_weights" not in f:
            values = _keras3_values(f["layers"], targets, filepath)
        else:
            root = _legacy_root(f)
            values = [_legacy_values(root, layer, filepath) for layer in targets]
    for layer, arrays in zip(targets, values):
        _check_shapes(layer, arrays, f"Received: filepath={filepath}")
        layer.set_weights(arrays)


def load_backbone_weights(model, filepath):
    """Load the convolutional backbone of a `keras.applications` file.

    Every weighted layer up to the model's feature end (`backbone_layers`:
    for a VGG, `block1_conv1` ... `block5_conv3`) gets the file's weights; the
    classifier (`fc1`, `fc2`, `predictions`) keeps the weights it was built
    with. So a with-top or no-top ImageNet file starts a 10-class model at
    32 px. A missing layer or a shape mismatch in the backbone is an error.

    Args:
        model: A kzoo `keras.Model` (any `num_classes`, input size, top).
        filepath: Path of the `.h5` or `.weights.h5` file.

    Returns:
        The names of the loaded layers.

    Raises:
        KzooError: A backbone layer is missing from the file or its shapes
            differ.
    """
    names = backbone_layers(model)
    load_keras_applications_weights(model, filepath, layers=names)
    return names


def load_application_backbone(model, filepath):
    """Load a `keras.applications` file into the nested `backbone` of a
    `kzoo.models.applications` model, as Keras loads it into its own
    network: the file's weighted layers in order (their names may differ
    from build to build, e.g. ConvNeXt's `layer_normalization`), each
    layer's shapes checked.

    Args:
        model: A model of `kzoo.models.applications` (or any model with a
            nested `keras.Model` named `backbone`).
        filepath: A legacy `.h5` file of the backbone without top (an
            ImageNet no-top file) or a `.weights.h5` file of it.

    Returns:
        The names of the backbone's weighted layers (all loaded).

    Raises:
        KzooError: The model has no such backbone, or the file does not fit
            it (another network, a count or shape that differs).
    """
    backbone = {layer.name: layer for layer in model.layers}.get(BACKBONE)
    if not hasattr(backbone, "load_weights"):
        raise KzooError(
            f"Model '{model.name}' has no nested keras.applications network "
            f"named {BACKBONE!r} to load {filepath} into. "
            f"Received: filepath={filepath}")
    try:
        if h5py.is_hdf5(filepath) and not str(filepath).endswith(".weights.h5"):
            _load_in_order(backbone, filepath)
        else:
            backbone.load_weights(filepath)
    except ValueError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise KzooError(
            f"The weights file {filepath} does not fit the backbone of "
            f"'{model.name}' ({len(_weighted(backbone))} "
            f"weighted layers): {first} Received: filepath={filepath}"
        ) from None
    return weighted_layers(backbone)


def _load_in_order(network, filepath):
    """Keras's legacy `.h5` load (the file's weighted layers, in order, into
    the network's), where a `DepthwiseConv2D` of the network takes a
    grouped `Conv2D` kernel of the file (`kzoo.models.depthwise`).

    Raises:
        ValueError: A count or shape that differs.
    """
    with h5py.File(filepath, "r") as f:
        root = _legacy_root(f)
        groups = [root[_text(name)] for name in root.attrs["layer_names"]]
        values = [arrays for arrays in map(_named_arrays, groups) if arrays]
    targets = [layer for layer in network.layers if layer.weights]
    if len(values) != len(targets):
        raise ValueError(
            f"The file has {len(values)} layers with weights, the network "
            f"{len(targets)}.")
    pairs = []  # every shape checked before any weight is set
    for layer, arrays in zip(targets, values):
        variables = layer.trainable_weights + layer.non_trainable_weights
        if len(arrays) != len(variables):
            raise ValueError(f"Layer '{layer.name}' has {len(variables)} "
                             f"weights, the file's {len(arrays)}.")
        for variable, array in zip(variables, arrays):
            if (isinstance(layer, keras.layers.DepthwiseConv2D)
                    and array.ndim == 4 and array.shape[2] == 1):
                array = grouped_kernel_as_depthwise(array)
            if tuple(variable.shape) != array.shape:
                raise ValueError(
                    f"Layer '{layer.name}' weight {variable.path} has shape "
                    f"{tuple(variable.shape)}, the file's {array.shape}.")
            pairs.append((variable, array))
    for variable, array in pairs:
        variable.assign(array)


def _text(name):
    return name.decode() if isinstance(name, bytes) else name


def _legacy_root(f):
    """The layer groups of a legacy `.h5` file: a full model's
    `model_weights`, or the root of a weights-only file."""
    return f["model_weights"] if "model_weights" in f else f


def _named_arrays(group):
    """A legacy layer group's arrays in its `weight_names` order ([] when
    it lists none)."""
    return [np.asarray(group[_text(n)])
            for n in group.attrs.get("weight_names", [])]


def weighted_layers(model):
    """The names of the weighted layers of `model`, nested models' own
    (not the nested models) included, in order."""
    return [layer.name for layer in _weighted(model)]


def _weighted(model):
    """The weighted layers of `model`, nested models' own included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _weighted(layer)
        elif layer.weights:
            found.append(layer)
    return found


def backbone_layers(model):
    """Names of the weighted layers of `model` before its classifier.

    The backbone ends at the layer where the model's features end: its
    registry entry's (`ModelEntry.feature_layer_of`), or for a model of
    another name the first `flatten`/`avg_pool`/`max_pool` layer; a model
    without one (`include_top=False, pooling=None`) is all backbone.
    """
    entry = model_entry_of(model)
    names = [layer.name for layer in model.layers]
    if entry is not None:
        end = entry.feature_layer_of(model)
    else:
        end = next((n for n in names if n in FEATURE_LAYERS.values()), names[-1])
    keep = model.layers[: names.index(end) + 1]
    return [layer.name for layer in keep if layer.weights]


def copy_weights(model, source, layers=None):
    """Copy the weights of `source` into `model`, layer by layer by name.

    For a trained model of the same architecture (a run's `model.keras`):
    every weighted layer of `model` (or of `layers`) must be in `source`,
    with the same weight shapes.

    Args:
        model: The `keras.Model` to fill.
        source: A `keras.Model` with layers of the same names.
        layers: Names of the model's layers to copy (None: every weighted
            layer).

    Raises:
        KzooError: A layer is missing from `source` or its shapes differ.
    """
    by_name = {layer.name: layer for layer in source.layers}
    for layer in _targets(model, layers):
        if layer.name not in by_name:
            raise KzooError(
                f"Model '{source.name}' has no layer '{layer.name}' to copy "
                f"into '{model.name}'; its layers: {sorted(by_name)}. "
                f"Received: source={source.name!r}"
            )
        arrays = by_name[layer.name].get_weights()
        _check_shapes(layer, arrays, f"Received: source={source.name!r}")
        layer.set_weights(arrays)


def _targets(model, layers):
    weighted = [layer for layer in model.layers if layer.weights]
    if layers is None:
        return weighted
    unknown = sorted(set(layers) - {layer.name for layer in weighted})
    if unknown:
        raise KzooError(
            f"Model '{model.name}' has no weighted layers {unknown}. "
            f"Received: layers={list(layers)}"
        )
    return [layer for layer in weighted if layer.name in set(layers)]


def _check_shapes(layer, arrays, received):
    expected = [tuple(w.shape) for w in layer.weights]
    got = [tuple(a.shape) for a in arrays]
    if expected != got:
        raise KzooError(
            f"Weight shapes differ for layer '{layer.name}': the model has "
            f"{expected}, the weights have {got}. {received}"
        )


def _keras3_values(group, targets, filepath):
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
                raise KzooError(
                    f"No weights for layer '{layer.name}' in the file "
                    f"(looked for '{layer.name}' and the next '{cls}'). "
                    f"Received: filepath={filepath}"
                )
            key = queues[cls].pop(0)
        vars_group = group[key]["vars"]
        values.append([np.asarray(vars_group[str(i)]) for i in range(len(vars_group))])
    return values


def _legacy_values(root, layer, filepath):
    if layer.name not in root:
        raise KzooError(
            f"No weights for layer '{layer.name}' in the file. "
            f"Received: filepath={filepath}"
        )
    group = root[layer.name]
    arrays = _named_arrays(group)
    if arrays:
        return arrays
    names = []  # no weight_names: kernel before bias
    group.visit(lambda n: names.append(n) if isinstance(group[n], h5py.Dataset)
                else None)
    names.sort(key=lambda n: ("bias" in n, n))
    return [np.asarray(group[n]) for n in names]
