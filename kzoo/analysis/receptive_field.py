"""Per-layer receptive field, output size, parameters and multiply-adds.

The receptive field follows the rule r_out = r_in + (k_eff - 1) * j_in and
j_out = j_in * s, where j is the cumulative stride ("jump") in input pixels
and k_eff = dilation * (k - 1) + 1. For a stack of stride-1 layers this is
the (P + K - 1) rule: each layer adds K - 1 pixels. Padding changes where a
window sits, not how wide it is, so it does not enter the size.
"""

import dataclasses

import keras
import numpy as np

_SPATIAL = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)
_GLOBAL = (
    keras.layers.Flatten,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)


@dataclasses.dataclass
class LayerStats:
    """One row of `layer_table`. `receptive_field` is None once global."""

    name: str
    kind: str
    output_shape: tuple
    receptive_field: object
    jump: object
    params: int
    macs: int


def _window(layer):
    if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
        k, s, d = layer.kernel_size, layer.strides, layer.dilation_rate
        return [dd * (kk - 1) + 1 for kk, dd in zip(k, d)], list(s)
    return list(layer.pool_size), list(layer.strides)


def _macs(layer, output_shape):
    out = [d for d in output_shape[1:] if d is not None]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return int(np.prod(out)) * kh * kw
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        cin = layer.kernel.shape[2]  # already divided by groups
        return int(np.prod(out)) * kh * kw * cin
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(layer.kernel.shape))
    return 0


def layer_table(model):
    """Receptive field and cost of every layer of a built functional model.

    Receptive fields are square-kernel values for the height axis (kzoo's
    models are square); layers after a Flatten/global pool or Dense see the
    whole input and report `receptive_field=None`.

    Args:
        model: A built functional `keras.Model` (a chain, or a graph whose
            layers each take one input).

    Returns:
        A list of `LayerStats`, one per layer, in graph order.
    """
    state = {}  # id(output tensor) -> (rf, jump) or None (global)
    rows = []
    for layer in model.layers:
        inputs = layer.input if not isinstance(layer, keras.layers.InputLayer) else None
        if inputs is None:
            rf = (1, 1)
        else:
            if isinstance(inputs, (list, tuple)):
                inputs = inputs[0]
            rf = state.get(id(inputs), (1, 1))
        if rf is not None:
            if isinstance(layer, _SPATIAL):
                (k, _), (s, _) = _window(layer)
                rf = (rf[0] + (k - 1) * rf[1], rf[1] * s)
            elif isinstance(layer, _GLOBAL + (keras.layers.Dense,)):
                rf = None
        state[id(layer.output)] = rf
        shape = tuple(layer.output.shape)
        rows.append(
            LayerStats(
                name=layer.name,
                kind=type(layer).__name__,
                output_shape=shape[1:],
                receptive_field=None if rf is None else rf[0],
                jump=None if rf is None else rf[1],
                params=layer.count_params() if layer.built else 0,
                macs=_macs(layer, shape),
            )
        )
    return rows


def format_table(rows):
    """Render `layer_table` rows as fixed-width text, with totals."""
    header = f"{'layer':<18}{'type':<20}{'output':<18}{'RF':>6}{'jump':>6}" \
             f"{'params':>14}{'MACs':>16}"
    lines = [header, "-" * len(header)]
    for r in rows:
        rf = "global" if r.receptive_field is None else str(r.receptive_field)
        jump = "-" if r.jump is None else str(r.jump)
        lines.append(
            f"{r.name:<18}{r.kind:<20}{str(r.output_shape):<18}{rf:>6}{jump:>6}"
            f"{r.params:>14,}{r.macs:>16,}"
        )
    lines.append("-" * len(header))
    total_p = sum(r.params for r in rows)
    total_m = sum(r.macs for r in rows)
    lines.append(f"{'total':<74}{total_p:>14,}{total_m:>16,}")
    return "\n".join(lines)
