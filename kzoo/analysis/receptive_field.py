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

from kzoo.models.applications import call_of

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
    if isinstance(layer, keras.layers.Dense):  # once per position on a map
        return int(np.prod(out[:-1])) * int(np.prod(layer.kernel.shape))
    return 0


def layer_table(model):
    """Receptive field and cost of every layer of a built functional model.

    Receptive fields are square-kernel values for the height axis (kzoo's
    models are square); layers after a Flatten/global pool or Dense see the
    whole input and report `receptive_field=None`. A nested model (a
    `keras.applications` backbone) is listed layer by layer, its layers
    named `backbone/conv`; a layer joining branches (a residual `Add`, a
    squeeze-excitation `Multiply`) takes the widest field of its spatial
    inputs (a global squeeze-excitation branch is not counted as making the
    field global).

    Args:
        model: A built functional `keras.Model`.

    Returns:
        A list of `LayerStats`, one per layer, in graph order.
    """
    rows = []
    _walk(model, {}, rows, prefix="", start=None)
    return rows


def _walk(model, state, rows, prefix, start):
    """Add the rows of `model`'s layers; `state` maps id(tensor) to its
    (receptive field, jump), or None once global. A nested model starts
    from `start`, the field of the tensor it is called on (its call's
    tensors: `kzoo.models.applications.call_of`)."""
    # `operations`: the layers and the ops between them (ConvNeXt's
    # residual `x + branch` is an op, not a layer).
    for layer in getattr(model, "operations", model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            state[id(layer.output)] = (1, 1) if start is None else start
            if start is not None:
                continue  # a nested model's input is the outer tensor
            rf = (1, 1)
        elif isinstance(layer, keras.Model):
            inputs, output = call_of(layer)  # its call in `model`
            inner = _field(inputs, state)
            state[id(layer.inputs[0])] = inner  # (a Sequential lists no input)
            _walk(layer, state, rows, f"{prefix}{layer.name}/", inner)
            state[id(output)] = state.get(id(layer.outputs[0]), inner)
            continue
        else:
            rf = _field(call_of(layer)[0], state)
            if rf is not None:
                if isinstance(layer, _SPATIAL):
                    (k, _), (s, _) = _window(layer)
                    rf = (rf[0] + (k - 1) * rf[1], rf[1] * s)
                elif isinstance(layer, _GLOBAL + (keras.layers.Dense,)) and (
                        len(layer.output.shape) <= 2):
                    rf = None
        state[id(layer.output)] = rf
        shape = tuple(layer.output.shape)
        rows.append(
            LayerStats(
                name=prefix + layer.name,
                kind=type(layer).__name__,
                output_shape=shape[1:],
                receptive_field=None if rf is None else rf[0],
                jump=None if rf is None else rf[1],
                params=(layer.count_params()
                        if getattr(layer, "built", False) else 0),
                macs=_macs(layer, shape),
            )
        )


def _field(inputs, state):
    """The (field, jump) a layer taking `inputs` sees: the widest of their
    spatial fields, None when every input is global."""
    known = [state.get(id(t), (1, 1)) for t in inputs]
    spatial = [rf for rf in known if rf is not None]
    return max(spatial) if spatial else None


def format_table(rows):
    """Render `layer_table` rows as fixed-width text, with totals."""
    width = max([18] + [len(r.name) + 1 for r in rows])
    kinds = max([20] + [len(r.kind) + 1 for r in rows])
    header = f"{'layer':<{width}}{'type':<{kinds}}{'output':<18}{'RF':>6}" \
             f"{'jump':>6}{'params':>14}{'MACs':>16}"
    lines = [header, "-" * len(header)]
    for r in rows:
        rf = "global" if r.receptive_field is None else str(r.receptive_field)
        jump = "-" if r.jump is None else str(r.jump)
        lines.append(
            f"{r.name:<{width}}{r.kind:<{kinds}}{str(r.output_shape):<18}"
            f"{rf:>6}{jump:>6}{r.params:>14,}{r.macs:>16,}"
        )
    lines.append("-" * len(header))
    total_p = sum(r.params for r in rows)
    total_m = sum(r.macs for r in rows)
    lines.append(f"{'total':<{width + kinds + 30}}{total_p:>14,}{total_m:>16,}")
    return "\n".join(lines)
