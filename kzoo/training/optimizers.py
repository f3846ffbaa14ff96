"""Per-group learning rates that follow schedules and LR callbacks.

`LRMultiplierOptimizer(optimizer, {pattern: factor})` trains the variables
whose path matches `pattern` with `factor` times the learning rate of
`optimizer`, and the rest with `optimizer` itself. Unlike a bare
`keras.optimizers.MultiOptimizer`, it has one `learning_rate`: reading it
gives the base rate and setting it (as `LearningRateScheduler` and
`ReduceLROnPlateau` do) sets every group, ratios kept. A learning-rate
schedule is scaled per group (`ScaledSchedule`), so all groups follow it.
"""

import re

import keras

Schedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="kzoo")
class ScaledSchedule(Schedule):
    """`factor * schedule(step)`.

    Args:
        schedule: A `LearningRateSchedule`.
        factor: Multiplier.
    """

    def __init__(self, schedule, factor):
        self.schedule = schedule
        self.factor = float(factor)

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "factor": self.factor,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def scaled_rate(rate, factor):
    """A learning rate (float or schedule) times `factor`."""
    if isinstance(rate, Schedule):
        return ScaledSchedule(rate, factor)
    return rate * factor


@keras.saving.register_keras_serializable(package="kzoo")
class LRMultiplierOptimizer(keras.optimizers.MultiOptimizer):
    """`optimizer` with some variable groups at a multiple of its learning rate.

    Each group gets its own copy of `optimizer` (same class and settings,
    learning rate times the group's factor), so adaptive optimizers (Adam,
    ...) keep separate moments per group as they would per variable anyway.
    Settings that look across variables, such as `global_clipnorm`, act
    within each group.

    Args:
        optimizer: The base optimizer (instance or name); variables matching
            no pattern use it.
        multipliers: Dict of regular expression -> factor. A variable is in
            the group whose pattern `re.fullmatch`es its `path`
            (e.g. `"block1_conv1/kernel"`).
        name: Optimizer name.

    Example:
        >>> opt = LRMultiplierOptimizer(keras.optimizers.Adam(1e-3),
        ...                             {"(conv1|conv2)/.*": 0.1})
        >>> model.compile(opt, loss)  # conv1/conv2 train at 1e-4
    """

    def __init__(self, optimizer, multipliers, name=None):
        optimizer = keras.optimizers.get(optimizer)
        if not multipliers:
            raise ValueError("`multipliers` must name at least one group.")
        for pattern in multipliers:
            re.compile(pattern)
        groups = {
            pattern: _scaled_copy(optimizer, factor, i)
            for i, (pattern, factor) in enumerate(multipliers.items())
        }
        super().__init__(
            keras.optimizers.OptimizerMap(optimizer, groups),
            name=name or f"lr_multiplier_{optimizer.name}",
        )
        self.multipliers = {k: float(v) for k, v in multipliers.items()}

    @property
    def base_optimizer(self):
        return self._optimizer_map.default_optimizer

    def group_optimizer(self, pattern):
        """The optimizer of the group `pattern`."""
        return self._optimizer_map[pattern]

    @property
    def optimizers(self):
        # Keras's LR callbacks give every optimizer in `.optimizers` the same
        # absolute rate, which would erase the ratios; without this attribute
        # they set `learning_rate` below instead. Use `group_optimizer`.
        raise AttributeError(
            "LRMultiplierOptimizer has one learning rate; use `base_optimizer` "
            "and `group_optimizer(pattern)` to reach the group optimizers."
        )

    @property
    def learning_rate(self):
        return self.base_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.base_optimizer.learning_rate = value
        for pattern, factor in self.multipliers.items():
            self.group_optimizer(pattern).learning_rate = scaled_rate(value, factor)

    def get_config(self):
        return {
            "optimizer": keras.saving.serialize_keras_object(self.base_optimizer),
            "multipliers": dict(self.multipliers),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.saving.deserialize_keras_object(
            config["optimizer"], custom_objects=custom_objects
        )
        return cls(**config)


def _scaled_copy(optimizer, factor, index):
    config = optimizer.get_config()
    rate = config["learning_rate"]
    if isinstance(rate, dict):
        rate = keras.optimizers.schedules.deserialize(rate)
    config["learning_rate"] = scaled_rate(rate, factor)
    config["name"] = f"{optimizer.name}_group{index}"
    return optimizer.__class__.from_config(config)
