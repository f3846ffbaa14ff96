"""What a run trains on: its data (budget, splits, datasets), its model and
its augmentation policy, each checked before anything is written."""

import os

import keras

from kzoo.augment import DEFAULT_POLICY, AugmentPolicy
from kzoo.data import batched, load_data, one_hot_labels
from kzoo.data.splits import OptionError
from kzoo.errors import DataError, KzooError
from kzoo.models import (
    IMAGENET,
    backbone_layers,
    create_model,
    get_model_entry,
    initial_weights,
    pretrained,
    weighted_layers,
)
from kzoo.models.applications import BACKBONE
from kzoo.run import progress
from kzoo.run.config import first_line
from kzoo.training import load_model_source
from kzoo.training.sources import is_layered

DEMO_DATA = "digits"


def demo_budget(config, labels_per_class):
    """The label budget of a semi-supervised run, said in its first line.

    The bundled digits are fully labelled, so a demo there hides labels:
    `labels_per_class` per class unless --labels-per-class/--label-fraction
    says otherwise. Any other data (a folder, TFDS) keeps every label it
    has unless a budget option is given: a user's labels are never dropped
    silently.

    Returns:
        `config`, with the demo budget set where it applies.
    """
    if config.get("labeled_indices") is not None:
        progress.say(f"labels: the {len(config.labeled_indices)} chosen images "
                     "(--labeled-indices); the rest of the training split joins "
                     "the unlabelled pool")
    elif config.labels_per_class is not None:
        progress.say(f"labels: {config.labels_per_class} per class "
                     "(--labels-per-class); the rest of the training split "
                     "joins the unlabelled pool")
    elif config.label_fraction is not None:
        progress.say(f"labels: {config.label_fraction:g} of each class "
                     "(--label-fraction); the rest of the training split joins "
                     "the unlabelled pool")
    elif config.data == DEMO_DATA:
        progress.say(f"labels: {labels_per_class} per class, the demo budget of "
                     f"the bundled {DEMO_DATA} (--labels-per-class or "
                     "--label-fraction sets another)")
        return config.replace(labels_per_class=labels_per_class)
    else:
        progress.say("labels: every labelled training image (no "
                     "--labels-per-class or --label-fraction); the unlabelled "
                     "pool is the data's own")
    return config


def input_size(config, model=None):
    """--input-size, or the default square size of `model` (--model)."""
    name = model or config.model
    return config.input_size or get_model_entry(name).default_input_shape[0]


def load_training_data(config, size):
    """The data spec with this run's budget, splits and seed.

    Raises:
        DataError: As `load_data`; one about its options names them by
            their flags (`--labels-per-class 20`, not `labels_per_class=20`).
    """
    try:
        return load_data(
            config.data, image_size=(size, size), channels=config.channels,
            labels_per_class=config.labels_per_class,
            label_fraction=config.label_fraction, val_fraction=config.val_fraction,
            seed=config.seed, data_dir=config.data_dir, download=config.download,
            classes=config.classes,
            labeled_indices=config.get("labeled_indices"),
        )
    except OptionError as err:
        raise DataError(err.with_flags()) from None


def load_data_for_model(config, trained, **overrides):
    """The data at a trained model's input size and channels.

    Returns:
        `(config, data)`: the config with `input_size`/`channels` (and
        `overrides`) set as used, and the loaded `DataSplits`.
    """
    height, _, channels = trained.input_shape[1:]
    config = config.replace(input_size=height, channels=channels, **overrides)
    return config, load_training_data(config, height)


def describe_data(data):
    """What the run trains on: counts, classes, shape (and where its
    channels come from), skipped files, then how validation was made and
    what it can tell."""
    progress.say(f"data '{data.name}': {progress.counts(data.counts)}; "
                 f"{data.num_classes} classes, shape {data.image_shape} "
                 f"({channels_note(data)}); "
                 f"skipped files: {len(data.skipped_files)}")
    print_skipped(data)
    progress.say(validation_note(data))


def channels_note(data):
    """Where the images' channels come from: 'grey, the data's own;
    --channels 3 for RGB', or 'colour images turned grey'."""
    channels, own = data.image_shape[-1], data.data_channels
    if own is None or own == channels:
        kind, other = ("grey", "RGB") if channels == 1 else ("RGB", "grey")
        return f"{kind}, the data's own; --channels {4 - channels} for {other}"
    return ("grey images repeated into RGB" if channels == 3
            else "colour images turned grey")


def validation_note(data):
    """One line: where the validation images come from and how finely
    their accuracy can move (one image is 1/n of it)."""
    n = data.counts.get("val", 0)
    if data.val is None or not n:
        why = ("--val-fraction 0" if data.val is None and not data.val_fraction
               else "no class has 2 training images to spare")
        return (f"validation: none ({why}; the data has no val split): no "
                "val_loss or val_accuracy")
    if data.val_fraction:
        where = (f"{n:,} of the {data.val_pool:,} labelled training images, "
                 f"held out before any label budget (--val-fraction "
                 f"{data.val_fraction:g} of each class, at least 1; "
                 "--val-fraction 0 for none)")
    else:
        where = f"the data's own val split, {n:,} images"
    return (f"validation: {where}; val_accuracy on {n:,} image"
            f"{'s' if n != 1 else ''} moves in steps of {100 / n:.3g}% (one "
            "image)")


def print_skipped(data):
    """One line per file the data scan skipped, with its reason."""
    for path in data.skipped_files:
        progress.say(f"  skipped: {path}: "
                     f"{data.skipped_reasons.get(path, 'not an image')}")


def build_model(config, data, model=None, width=None, dropout=None, weights=None,
                num_classes=None):
    """A registered model (`model`, else --model) for `data`, built now so
    that an input size it cannot take (VGG's five poolings need 32 px)
    fails before any output is written. `width` and `dropout` (else
    --width, --dropout) are passed to models whose registry entry takes
    them.

    `weights` (a run's --weights) starts it from pretrained weights, see
    `kzoo.models.initial_weights`: `"imagenet"` builds the model with the
    input convention its ImageNet file needs (VGG: caffe) and loads the
    backbone from it (downloaded once into the Keras cache); the classifier for
    `data`'s classes stays random. A `keras.applications` file gives its
    convolutions too; a kzoo run folder or `.keras` file of the same model
    gives every layer.

    `num_classes` replaces `data`'s (a self-supervised encoder, whose
    classifier is dropped).

    Raises:
        KzooError: The model cannot be built at this input shape, or the
            weights do not fit it.
    """
    name = model or config.model
    entry = get_model_entry(name)
    kwargs = {"num_classes": num_classes or data.num_classes,
              "input_shape": data.image_shape}
    for option, value in (("width", width), ("dropout", dropout)):
        if option in entry.tunable:
            kwargs[option] = config.get(option) if value is None else value
    if weights == IMAGENET:
        kwargs.update(imagenet_options(name, kwargs, data.image_shape[-1]))
    try:
        network = create_model(name, **kwargs)
    except (ValueError, TypeError) as err:
        if isinstance(err, KzooError):
            raise
        raise KzooError(
            f"{name} cannot be built for images of shape {data.image_shape} "
            f"(--input-size, --channels): {first_line(err)}") from None
    check_pooling_inputs(network, name)
    if weights is not None:
        load_initial_weights(network, name, weights)
    size_hint(name, data)
    return network


# Larger RGB images than this, trained with a digits-sized network at 32 px,
# get `size_hint`'s line.
PHOTO_SIZE = 64
PHOTO_MODEL = "mobilenet_v3_small"


def size_hint(name, data):
    """One line when `data` looks like photos and `name` is LeNet-5 at 32
    px: RGB images over `PHOTO_SIZE` px, a network made for 32 px digits.
    It names a pretrained backbone and the options that use it."""
    own = data.data_size
    if (name != "lenet5" or data.data_channels != 3 or own is None
            or own <= PHOTO_SIZE or data.image_shape[0] > 32):
        return
    progress.say(
        f"hint: these are RGB images of about {own} px; lenet5 sees them at "
        f"{data.image_shape[0]} px, a network made for 32 px digits. A "
        f"pretrained backbone fits photos: --model {PHOTO_MODEL} --weights "
        "imagenet --input-size 128 (kzoo info --list: the others), or kzoo "
        f"transfer --source {PHOTO_MODEL} --weights imagenet --input-size 128 "
        "for a head on its features (the fastest on a CPU)")


def imagenet_options(name, options, channels):
    """The builder options --weights imagenet needs (VGG: caffe preprocessing).

    Raises:
        KzooError: `name` has no ImageNet weights, --width is not 1, or the
            images are not RGB (the message says `--channels 3`).
    """
    extra = pretrained.imagenet_options(name, options)
    if channels != 3:
        raise KzooError(
            f"ImageNet weights take RGB images; these have {channels} "
            "channel(s): add --channels 3 (grey images are repeated into "
            f"RGB). Received: --weights imagenet, --channels {channels}")
    return extra


def trained_weights(weights):
    """--weights as `kzoo.models.initial_weights` takes it: a kzoo run
    folder, SavedModel or `.keras` file loaded as its Keras model (the
    `.keras` file checked first, see `kzoo.training.load_model_source`);
    anything else as given.

    Raises:
        KzooError: A SavedModel without its Keras model, or a `.keras` file
            that is refused.
    """
    is_keras_file = os.path.isfile(weights) and weights.endswith(".keras")
    if weights == IMAGENET or not (os.path.isdir(weights) or is_keras_file):
        return weights
    try:
        model = load_model_source(weights)
    except KzooError as err:
        raise KzooError(f"--weights {weights}: {first_line(err)}") from None
    if not is_layered(model):
        raise KzooError(
            f"The SavedModel at {weights} has no Keras model to copy weights "
            "from (assets.extra/model.keras); pass its .keras file. "
            f"Received: --weights {weights}")
    return model


def load_initial_weights(network, name, weights):
    """`kzoo.models.initial_weights` for a run, said in one line.

    Raises:
        KzooError: The weights do not fit `network`.
    """
    backbone_only = weights == IMAGENET or str(weights).endswith(
        pretrained.WEIGHT_FILE_SUFFIXES)
    source = trained_weights(weights)  # a refused file says so itself
    try:
        initial_weights(network, source, name=name)
    except (ValueError, OSError) as err:
        hint = "" if backbone_only else (
            " (a trained model of the same architecture; for new classes use "
            "kzoo transfer --source with it)")
        raise KzooError(f"--weights {weights}{hint}: {first_line(err)}") from None
    if weights == IMAGENET:
        what = (f"ImageNet ({pretrained.weights_file(name, False).fname}; "
                f"{pretrained.imagenet_convention(name)} preprocessing in the "
                "model)")
    else:
        what = str(weights)
    loaded = (backbone_layers(network) if backbone_only
              else [layer.name for layer in network.layers if layer.weights])
    if loaded == [BACKBONE]:  # a keras.applications network, nested
        loaded = weighted_layers(network.get_layer(BACKBONE))
    progress.say(f"weights: {what}: {len(loaded)} layers loaded "
                 f"({loaded[0]} ... {loaded[-1]})")


def check_pooling_inputs(model, name):
    """Refuse an input so small that a pooling stage gets less than its
    window (VGG builds from 1 px, but a 1x1 map pooled five times is not
    a classifier of images).

    Raises:
        KzooError: Naming the first such pooling layer.
    """
    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    for layer in model.layers:
        if isinstance(layer, pooling):
            height, width = layer.input.shape[1:3]
            window = max(layer.pool_size)
            if min(height, width) < window:
                raise KzooError(
                    f"Images of {model.input_shape[1]}x{model.input_shape[2]} px "
                    f"are too small for {name}: its layer {layer.name} would pool "
                    f"a {height}x{width} map with a {window}x{window} window. Use "
                    "a larger --input-size (default: "
                    f"{get_model_entry(name).default_input_shape[0]}).")


def make_policy(spec, image_size, num_classes, seed):
    """The `--augment` policy ('default' names DEFAULT_POLICY)."""
    spec = DEFAULT_POLICY if spec == "default" else spec
    return AugmentPolicy(spec, image_size, num_classes, seed=seed)


def train_dataset(data, config):
    """The labelled training split: endless, shuffled, `train_map`-ped."""
    return batched(data.train, config.batch_size, training=True, seed=config.seed,
                   map_fn=train_map(data, config), repeat=True)


def train_map(data, config):
    """The batch map of labelled training data: --augment, or one-hot."""
    policy = make_policy(config.augment, data.image_shape[:2], data.num_classes,
                         config.seed)
    return policy.map_fn if policy.layers else one_hot_labels(data.num_classes)


def val_dataset(data, config):
    """The validation split, batched with one-hot labels (None without one)."""
    if data.val is None:
        return None
    return batched(data.val, config.batch_size,
                   map_fn=one_hot_labels(data.num_classes))


def test_dataset(data, config):
    """The test split, batched with integer labels (2 batches with --smoke)."""
    test = batched(data.test, config.batch_size)
    return test.take(2) if config.smoke else test
