"""Channel order inside a model: RGB <-> BGR."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kzoo")
class ReverseChannels(keras.layers.Layer):
    """Reverse the order of the channels: RGB images become BGR (and back).

    The first step of the "caffe" input convention of `keras.applications`
    (`keras.applications.imagenet_utils.preprocess_input(x, mode="caffe")`:
    RGB -> BGR, then subtract the BGR ImageNet mean, no scaling). A model
    that starts with this layer takes RGB pixels, as kzoo's data and
    exported signatures give them, while its weights see the BGR inputs
    they were trained on (the VGG-16/19 ImageNet files). The same as
    `x[..., ::-1]`; no weights, any dtype.

    Args:
        axis: The channel axis (-1: channels last).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:
        >>> bgr = ReverseChannels()(keras.ops.ones((1, 8, 8, 3)))
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"`axis` must be an integer. Received: axis={axis!r}")
        self.axis = axis

    def call(self, inputs):
        return ops.flip(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis})
        return config
