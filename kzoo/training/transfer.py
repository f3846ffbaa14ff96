"""Transfer learning: a pre-trained model's features under a new head.

Two modes (see `transfer_model`):
- `"head"` (feature extraction): the backbone is frozen, BatchNorm layers
  included (a frozen Keras BatchNormalization runs in inference mode, so its
  moving statistics stay put); only the new head trains.
- `"finetune"`: everything trains; compile with `finetune_optimizer` to give
  the backbone a lower learning rate than the new head.
"""

import re

import keras

from kzoo.errors import KzooError
from kzoo.layers import Dropout
from kzoo.models import model_entry_of
from kzoo.models.applications import output_of
from kzoo.models.heads import logits_layer
from kzoo.training.optimizers import LRMultiplierOptimizer
from kzoo.training.sources import is_layered, load_model_source

MODES = ("head", "finetune", "scratch")
BACKBONE = "backbone"


def copy_model(model, weights=True):
    """An independent copy of a functional model (same layer names)."""
    copy = keras.models.clone_model(model)
    if weights:
        copy.set_weights(model.get_weights())
    return copy


def features_of(model, feature_layer=None, cut="classifier"):
    """The tensor a new head goes on.

    Args:
        model: A functional model.
        feature_layer: Name of the last layer to keep; overrides `cut`.
        cut: Without `feature_layer`: `"classifier"` keeps everything before
            the FC classifier: for a registered kzoo model (found by its
            name, see `kzoo.models.model_entry_of`), the layer its registry
            entry says its features end at (`ModelEntry.feature_layer_of`,
            e.g. `flatten`); for any other model, the last layer's input.
            `"last"` keeps all but the last layer.

    Raises:
        KzooError: `feature_layer` names no layer of the model.
    """
    if feature_layer is None:
        entry = model_entry_of(model)
        if cut == "last" or entry is None:
            return model.layers[-1].input
        feature_layer = entry.feature_layer_of(model)
    try:
        layer = model.get_layer(feature_layer)
    except ValueError:
        raise KzooError(
            f"Model '{model.name}' has no layer {feature_layer!r}. Layers: "
            f"{[layer.name for layer in model.layers]}"
        ) from None
    return output_of(layer)


def transfer_model(source, num_classes, mode="head", feature_layer=None, dropout=0.0):
    """The source's backbone with a new classifier for `num_classes`.

    The backbone is everything before the source's FC classifier: its
    pooled/flattened features, at the layer its registry entry names (see
    `features_of`; measured on digits 0-4 -> 5-9 with 5 labels per class, a
    linear probe scored 93% on LeNet-5's flatten features, 83% on fc1 and
    75% on fc2), or up to `feature_layer`. It is a nested
    model named `backbone`; in `"head"` mode it is called with
    `training=False`, so its Dropout and BatchNormalization layers run in
    inference mode while the head trains. The source is copied, never
    modified.

    Args:
        source: A layered `keras.Model`, a `.keras` file or a kzoo-exported
            SavedModel (see `load_model_source`).
        num_classes: Classes of the new task.
        mode: `"head"` (frozen backbone), `"finetune"` (all trainable) or
            `"scratch"` (same architecture, freshly initialised: the baseline).
        feature_layer: Name of the last backbone layer.
        dropout: Dropout rate before the new head.

    Returns:
        A functional `keras.Model`: `backbone` (layers keep their names), then
        the new head `predictions` (after `head_dropout` when `dropout`).

    Raises:
        KzooError: Unknown mode or layer, or a source without Keras layers.
    """
    if mode not in MODES:
        raise KzooError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    model = load_model_source(source)
    if not is_layered(model):
        raise KzooError(
            "Transfer learning needs the source's Keras layers; this SavedModel "
            "has no assets.extra/model.keras. Pass the .keras file instead."
        )
    model = copy_model(model, weights=mode != "scratch")
    backbone = keras.Model(
        model.input, features_of(model, feature_layer), name=BACKBONE
    )
    inputs = keras.Input(model.input_shape[1:], name="images")
    if mode == "head":
        backbone.trainable = False
        x = backbone(inputs, training=False)
    else:
        x = backbone(inputs)
    if dropout:
        x = Dropout(dropout, name="head_dropout")(x)
    outputs = logits_layer(num_classes)(x)
    return keras.Model(inputs, outputs, name=f"{model.name}_{mode}")


def backbone_layers(model):
    """The layers of a `transfer_model`'s backbone."""
    return [
        layer
        for layer in model.get_layer(BACKBONE).layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def finetune_optimizer(optimizer, model, backbone_lr_multiplier=0.1):
    """`optimizer` with the backbone at `backbone_lr_multiplier` times its rate.

    Works with any Keras optimizer, learning-rate schedules (each group
    follows the schedule, ratio kept) and LR callbacks (`ReduceLROnPlateau`,
    `LearningRateScheduler` set both groups), see `LRMultiplierOptimizer`.

    Args:
        optimizer: Optimizer (instance or name) with the head's learning rate.
        model: A `transfer_model`.
        backbone_lr_multiplier: Factor of the backbone's learning rate.

    Returns:
        An `LRMultiplierOptimizer`.
    """
    if not backbone_lr_multiplier >= 0:
        raise ValueError(
            "`backbone_lr_multiplier` must be >= 0. "
            f"Received: backbone_lr_multiplier={backbone_lr_multiplier}"
        )
    # The backbone's own variable paths: a nested network's variables (a
    # keras.applications backbone's `conv/kernel`) carry no parent name.
    paths = [re.escape(v.path) for v in model.get_layer(BACKBONE).weights]
    pattern = "(?:" + "|".join(paths) + ")"
    return LRMultiplierOptimizer(optimizer, {pattern: backbone_lr_multiplier})
