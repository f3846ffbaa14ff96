"""Model registry: `create_model("vgg16", num_classes=10)` and friends.

Each public builder registers itself with `@register_model(...)`, recording
its default input shape so the recipes can pick a sensible image size.
"""

import dataclasses
import fnmatch


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model name."""

    name: str
    builder: object
    default_input_shape: tuple
    family: str


_REGISTRY = {}


def register_model(default_input_shape, family):
    """Decorator registering a builder under its function name.

    Args:
        default_input_shape: `(height, width, channels)` used when the caller
            gives none.
        family: Family name (`"lenet"`, `"alexnet"`, `"vgg"`, `"baseline"`).

    Returns:
        The decorator; it returns the builder unchanged.
    """

    def decorator(fn):
        name = fn.__name__
        if name in _REGISTRY:
            raise ValueError(f"Model '{name}' is already registered.")
        _REGISTRY[name] = ModelEntry(name, fn, tuple(default_input_shape), family)
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


def create_model(name, num_classes=1000, input_shape=None, **kwargs):
    """Build a registered model by name.

    Args:
        name: A name from `list_models()`.
        num_classes: Number of output classes.
        input_shape: `(height, width, channels)`; the model's default if None.
        **kwargs: Passed on to the builder (`include_top`, `pooling`, `width`,
            `classifier_activation`, ...).

    Returns:
        A `keras.Model` returning logits unless `classifier_activation` is set.

    Raises:
        ValueError: On an unknown name or invalid builder arguments.

    Example:
        >>> model = create_model("vgg11_bn", num_classes=10,
        ...                      input_shape=(32, 32, 3), width=0.25)
    """
    entry = get_model_entry(name)
    if input_shape is None:
        input_shape = entry.default_input_shape
    return entry.builder(num_classes=num_classes, input_shape=input_shape, **kwargs)
