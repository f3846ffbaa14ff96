"""Local Response Normalization across channels (Krizhevsky et al. 2012)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kzoo")
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel Local Response Normalization, as in AlexNet.

    For channel `i` of a channels-last activation `a`:

        b_i = a_i / (bias + alpha * sum_{j=i-r}^{i+r} a_j**2) ** beta,
        r = (size - 1) // 2,

    with the sum clipped at the first and last channel. The defaults are the
    paper's n=5, k=2, alpha=1e-4, beta=0.75.

    Mapping to other conventions:
    - `tf.nn.local_response_normalization(depth_radius=(size - 1) // 2,
      bias=bias, alpha=alpha, beta=beta)` computes exactly this (alpha is
      applied to the plain sum, as in the paper).
    - Caffe and `torch.nn.LocalResponseNorm(size, alpha, beta, k)` divide
      alpha by `size`: their `alpha` equals `size * alpha` here.

    Args:
        size: Odd number of adjacent channels in the sum (the paper's n).
        bias: Additive constant (the paper's k).
        alpha: Scale of the sum of squares.
        beta: Exponent.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Raises:
        ValueError: If `size` is not a positive odd integer or `beta` < 0.

    Example:
        >>> layer = LocalResponseNormalization()
        >>> layer(np.ones((1, 4, 4, 8), "float32")).shape
        (1, 4, 4, 8)

    Reference:
        Krizhevsky, Sutskever, Hinton. "ImageNet Classification with Deep
        Convolutional Neural Networks". NeurIPS 2012, section 3.3.
    """

    def __init__(self, size=5, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(
                f"`size` must be a positive odd integer. Received: size={size}"
            )
        if beta < 0:
            raise ValueError(f"`beta` must be >= 0. Received: beta={beta}")
        self.size = size
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.supports_masking = True

    def call(self, inputs):
        radius = (self.size - 1) // 2
        squared = ops.square(inputs)
        rank = len(inputs.shape)
        padding = [(0, 0)] * (rank - 1) + [(radius, radius)]
        padded = ops.pad(squared, padding)
        channels = ops.shape(inputs)[-1]
        window_sum = padded[..., 0:channels]
        for offset in range(1, self.size):
            window_sum = window_sum + padded[..., offset : offset + channels]
        return inputs / ops.power(self.bias + self.alpha * window_sum, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "size": self.size,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
            }
        )
        return config
