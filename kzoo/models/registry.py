"""Model registry: `create_model("vgg16", num_classes=10)` and friends.

Each public builder registers itself with `@register_model(...)`, declaring
what the rest of kzoo needs to know about it without looking at its code:
its default input shape, the options it takes (with their defaults) and
which of them a run may tune, its model noise for Noisy Student, and the
layer where its feature extractor ends (for transfer learning).
"""

import dataclasses
import fnmatch
import types


@dataclasses.dataclass(frozen=True)
class ModelNoise:
    """The model noise a family gets as a Noisy Student student.

    Noisy Student (Xie et al. 2020) noises the student with dropout and
    stochastic depth. Stochastic depth drops residual branches, and the
    classic zoo has no residual blocks, so no registered model gets it.
    Input noise (RandAugment through the augmentation policy) applies to
    every model and is not listed here.

    Attributes:
        description: What the noise is, e.g. `"dropout after fc1 and fc2"`.
        option: The builder option that sets it (`"dropout"`), or None when
            the model has no model noise (input noise only).
    """

    description: str
    option: object = None


# Input noise applies to every model; this is what a family without model
# noise (or an unknown family) gets.
NO_MODEL_NOISE = ModelNoise("none known: input noise only")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model name.

    Attributes:
        name: The registered name (the builder's function name).
        builder: The builder, called as
            `builder(num_classes=..., input_shape=..., **options)`.
        default_input_shape: `(height, width, channels)` used when the
            caller gives none.
        family: Family name (`"lenet"`, `"alexnet"`, `"vgg"`, `"baseline"`).
        options: Read-only mapping of every option the builder takes beyond
            `num_classes` and `input_shape` to its default, in the builder's
            order. `create_model` accepts exactly these.
        tunable: The options a run may set from its config (`--width`,
            `--dropout`): a subset of `options`.
        noise: The family's `ModelNoise` for Noisy Student.
        feature_layers: Read-only mapping of each `pooling` value to the
            layer where the feature extractor ends when the model is built
            with it (e.g. `{None: "flatten", "avg": "avg_pool", ...}`): the
            input of the FC classifier.
    """

    name: str
    builder: object
    default_input_shape: tuple
    family: str
    options: types.MappingProxyType
    tunable: tuple
    noise: ModelNoise
    feature_layers: types.MappingProxyType

    def accepts(self, option):
        """Whether `create_model(self.name, ...)` takes `option`."""
        return option in self.options

    def check_options(self, options):
        """Raise unless every key of `options` is one of `self.options`.

        Raises:
            ValueError: Listing the valid options and the unknown ones.
        """
        unknown = [key for key in options if key not in self.options]
        if unknown:
            received = ", ".join(f"{key}={options[key]!r}" for key in unknown)
            raise ValueError(
                f"Unknown option for model '{self.name}'. Expected one of "
                f"{list(self.options)}. Received: {received}"
            )

    @property
    def feature_layer(self):
        """Where the feature extractor ends with the default options."""
        return self.feature_layers[self.options.get("pooling")]

    def feature_layer_of(self, model):
        """Where the feature extractor of `model`, built by this entry, ends.

        Args:
            model: A model built by `self.builder` (or a copy or reload).

        Returns:
            The name of its `feature_layers` layer (the one its `pooling`
            option put there), or of its last layer when it has none
            (`include_top=False, pooling=None`: the model is all features).
        """
        names = {layer.name for layer in model.layers}
        for layer_name in self.feature_layers.values():
            if layer_name in names:
                return layer_name
        return model.layers[-1].name


_REGISTRY = {}


def register_model(
    default_input_shape,
    family,
    options,
    noise,
    feature_layers,
    tunable=(),
):
    """Decorator registering a builder under its function name.

    Args:
        default_input_shape: `(height, width, channels)` used when the caller
            gives none.
        family: Family name (`"lenet"`, `"alexnet"`, `"vgg"`, `"baseline"`).
        options: Dict of the builder's options beyond `num_classes` and
            `input_shape` to their defaults (the builder's signature).
        noise: The family's `ModelNoise`.
        feature_layers: Dict of each `pooling` value the builder takes (None
            when it takes no `pooling`) to the layer its features end at.
        tunable: Names in `options` that a run may set.

    Returns:
        The decorator; it returns the builder unchanged.

    Raises:
        ValueError: On a name registered twice, or `tunable`, `noise.option`
            or `feature_layers` naming what `options` lacks.
    """
    options = dict(options)
    tunable = tuple(tunable)
    named = tunable + ((noise.option,) if noise.option is not None else ())
    unknown = [key for key in named if key not in options]
    if unknown:
        raise ValueError(
            "`tunable` and `noise.option` must be among the options "
            f"{list(options)}. Received: {unknown}"
        )
    default_pooling = options.get("pooling")
    if default_pooling not in feature_layers:
        raise ValueError(
            "`feature_layers` must name the feature layer of the default "
            f"pooling={default_pooling!r}. Received: feature_layers={feature_layers}"
        )

    def decorator(fn):
        name = fn.__name__
        if name in _REGISTRY:
            raise ValueError(f"Model '{name}' is already registered.")
        known = {e.noise for e in _REGISTRY.values() if e.family == family}
        if known - {noise}:
            raise ValueError(
                f"Family '{family}' is registered with noise {known.pop()}. "
                f"Received: noise={noise}"
            )
        _REGISTRY[name] = ModelEntry(
            name=name,
            builder=fn,
            default_input_shape=tuple(default_input_shape),
            family=family,
            options=types.MappingProxyType(options),
            tunable=tunable,
            noise=noise,
            feature_layers=types.MappingProxyType(dict(feature_layers)),
        )
        return fn

    return decorator


def list_models(pattern=None):
    """Sorted names of the registered models, optionally filtered.

    Args:
        pattern: Optional shell-style wildcard, e.g. `"vgg*_bn"`.

    Returns:
        A list of model names.
    """
    names = sorted(_REGISTRY)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def list_families():
    """Sorted family names of the registered models."""
    return sorted({entry.family for entry in _REGISTRY.values()})


def family_noise(family):
    """The `ModelNoise` of a family; `NO_MODEL_NOISE` for an unknown one."""
    for entry in _REGISTRY.values():
        if entry.family == family:
            return entry.noise
    return NO_MODEL_NOISE


def get_model_entry(name):
    """The `ModelEntry` of `name`.

    Raises:
        ValueError: If no model has that name; the message lists valid names.
    """
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown model. Expected one of {list_models()}. Received: name={name!r}"
        )
    return _REGISTRY[name]


def model_entry_of(model):
    """The `ModelEntry` a built model comes from (by its name), or None.

    Registered builders name their models after the entry unless given
    another `name`.
    """
    return _REGISTRY.get(getattr(model, "name", None))
