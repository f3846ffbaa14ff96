"""Embeddings and predictions of an image pool, streamed in batches
(TensorFlow; `kzoo.select` itself needs only the arrays).

An encoder is any `keras.Model` from images to vectors: a kzoo pretrain
run's `model.keras`, the features of a trained kzoo classifier
(`kzoo.training.encoder_of`: the input of its `predictions` layer), an
ImageNet backbone, or `pixel_encoder` (the images themselves, small).
Only the outputs are kept: memory grows with the pool's size times the
embedding's width, never with its images.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kzoo.data.items import is_skipped
from kzoo.errors import KzooError
from kzoo.models import create_model, initial_weights
from kzoo.models.pretrained import imagenet_options
from kzoo.training import load_model_source
from kzoo.training.simclr import ENCODER_OUTPUT, encoder_of

# Pixel embeddings: images at this size, flattened (768 values for RGB).
PIXEL_SIZE = 16
PIXELS = "pixels"
IMAGENET = "imagenet"
IMAGENET_MODEL = "mobilenet_v3_small"


def pixel_encoder(channels, size=PIXEL_SIZE):
    """Images (`size` x `size`, values in [0, 255]) -> their pixels / 255,
    flattened: the baseline that needs no training."""
    images = keras.Input((size, size, channels), name="images")
    x = keras.layers.Rescaling(1 / 255.0)(images)
    return keras.Model(images, keras.layers.Flatten()(x), name="pixels")


def embed(encoder, dataset, batch_size=64, with_logits=None, on_batch=None):
    """Run `encoder` in inference mode over `dataset`, in order.

    Args:
        encoder: Images -> `[n, ...]` vectors.
        dataset: Unbatched `(image, index)`; a skipped image
            (`kzoo.data.items.is_skipped`) is left out.
        batch_size: Images per pass.
        with_logits: Optional classifier: images -> logits; its softmax is
            returned too (one pass over the images for both).
        on_batch: Called with the number of images done after each batch.

    Returns:
        `(embeddings, indices, probabilities)`: float32 `[N, d]` (flattened),
        int64 `[N]` the indices of the images embedded, and float32
        `[N, classes]` (None without `with_logits`).
    """
    outputs = [encoder.output] + ([with_logits.output] if with_logits else [])
    model = keras.Model(encoder.input, outputs) if with_logits else encoder
    if with_logits is not None and with_logits.input is not encoder.input:
        raise ValueError("`with_logits` must share `encoder`'s input (use "
                         "kzoo.training.encoder_of of the classifier).")
    found, kept, probs, done = [], [], [], 0
    for x, index in dataset.batch(batch_size):
        keep = tf.logical_not(is_skipped(x))
        if not bool(tf.reduce_all(keep)):
            x, index = tf.boolean_mask(x, keep), tf.boolean_mask(index, keep)
        if int(tf.shape(x)[0]):
            out = model(x, training=False)
            vectors = out[0] if with_logits else out
            found.append(np.asarray(vectors, np.float32).reshape(len(index), -1))
            kept.append(np.asarray(index, np.int64))
            if with_logits:
                logits = tf.cast(out[1], tf.float32)
                probs.append(np.asarray(tf.nn.softmax(logits), np.float32))
        done += int(tf.size(keep))
        if on_batch is not None:
            on_batch(done)
    width = int(np.prod(encoder.output.shape[1:]))
    embeddings = np.concatenate(found) if found else np.zeros((0, width), np.float32)
    indices = np.concatenate(kept) if kept else np.zeros((0,), np.int64)
    if not with_logits:
        return embeddings, indices, None
    classes = int(with_logits.output.shape[-1])
    return embeddings, indices, (np.concatenate(probs) if probs
                                 else np.zeros((0, classes), np.float32))


class Embedding:
    """What an embedding spec names, loaded (and checked) before any
    image is read: `"pixels"`, `"imagenet"` / `"imagenet:NAME"` (the
    ImageNet backbone of a registered model; mobilenet_v3_small by
    default), or a kzoo run folder / `.keras` file (a classifier's
    features, `kzoo.training.encoder_of`, or a pretrain run's encoder).

    Args:
        spec: The spec.
        model: A loaded classifier to use for a run spec instead of
            loading it again (the same network then gives features and
            predictions in one pass).

    Raises:
        KzooError: Nothing at a run path, a model without ImageNet
            weights.
    """

    def __init__(self, spec, model=None):
        self.spec = spec
        self.model = None
        if spec == PIXELS:
            return
        if spec == IMAGENET or spec.startswith(IMAGENET + ":"):
            self.imagenet = spec.partition(":")[2] or IMAGENET_MODEL
            imagenet_options(self.imagenet, {})  # a model without weights says so
            return
        if model is None and not os.path.exists(spec):
            raise KzooError(
                "An embedding is a kzoo run folder or .keras file, 'imagenet', "
                f"'imagenet:NAME' or 'pixels'; nothing exists at {spec!r}. "
                f"Received: embedding={spec!r}")
        model = model if model is not None else load_model_source(spec)
        if any(layer.name == ENCODER_OUTPUT for layer in model.layers):
            model = encoder_of(model)
        self.model = model

    def encoder(self, channels):
        """`(encoder, input size, input channels)` for images of `channels`.

        ImageNet backbones take RGB: grey images are repeated into three
        channels, as `--channels 3` does.

        Raises:
            KzooError: A run that takes images of other channels.
        """
        kind = {1: "grey", 3: "RGB"}.get(channels)
        if self.spec == PIXELS:
            return pixel_encoder(channels), PIXEL_SIZE, channels
        if self.model is None:
            model = create_model(self.imagenet, num_classes=2,
                                 **imagenet_options(self.imagenet, {}))
            initial_weights(model, IMAGENET, name=self.imagenet)
            return encoder_of(model), model.input_shape[1], 3
        shape = tuple(self.model.input_shape[1:])
        if len(shape) != 3 or None in shape or shape[-1] != channels:
            raise KzooError(
                f"The embedding {self.spec} takes inputs of shape {shape}; the "
                f"images are {kind} ({channels} channel{'s' * (channels > 1)}). "
                "Expected a run trained on images like these (same channels), "
                "or the embedding pixels / imagenet.")
        return self.model, shape[0], shape[-1]

    def describe(self, encoder):
        return f"{self.spec} ({int(np.prod(encoder.output.shape[1:]))} values an image)"
