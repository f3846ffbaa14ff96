"""Depthwise convolutions written as grouped `Conv2D`s (groups = channels,
as `keras.applications.ConvNeXt*` builds them), rebuilt as the equal
`DepthwiseConv2D`.

TensorFlow runs a grouped convolution on CPU inside a compiled function of
its own: ConvNeXt-Tiny's forward pass at 128 px ran 7.3 images/s with
them, 43 with depthwise layers (2-core EPYC, batch 32), and tf2onnx cannot
convert that function at all. The kernel `(h, w, 1, C)` of `Conv2D(groups=C)`
is `DepthwiseConv2D`'s `(h, w, C, 1)`.
"""

import keras


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def plain_depthwise(model):
    """`model` with each depthwise convolution written as a grouped
    `Conv2D` rebuilt as the equal `DepthwiseConv2D`, its weights copied
    (`model` itself when it has none); every other layer is shared."""
    if not any(map(grouped_depthwise, _all_layers(model))):
        return model
    return keras.models.clone_model(model, clone_function=_as_depthwise,
                                    recursive=True)


def grouped_depthwise(layer):
    """Whether `layer` is a depthwise convolution written as a grouped
    `Conv2D` (one input channel per group, one filter per group)."""
    return (type(layer) is keras.layers.Conv2D and layer.groups > 1
            and layer.groups == layer.filters and layer.kernel.shape[2] == 1)


def _as_depthwise(layer):
    if not grouped_depthwise(layer):
        return layer
    config = layer.get_config()
    depthwise = keras.layers.DepthwiseConv2D(
        config["kernel_size"], strides=config["strides"],
        padding=config["padding"], depth_multiplier=1,
        data_format=config["data_format"],
        dilation_rate=config["dilation_rate"], activation=config["activation"],
        use_bias=config["use_bias"], dtype=layer.dtype_policy,
        name=config["name"])
    depthwise.build(layer.input.shape)
    weights = layer.get_weights()
    depthwise.set_weights([grouped_kernel_as_depthwise(weights[0]), *weights[1:]])
    return depthwise


def grouped_kernel_as_depthwise(kernel):
    """A `Conv2D(groups=C)` kernel `(h, w, 1, C)` as `DepthwiseConv2D`'s
    `(h, w, C, 1)`."""
    return kernel.transpose(0, 1, 3, 2)
