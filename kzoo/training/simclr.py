"""SimCLR (Chen et al. 2020): self-supervised features from unlabelled
images alone.

Two augmented views of each image go through the encoder and a projection
head; the NT-Xent loss makes the two projections of an image agree and
those of different images differ. The encoder (every layer of a kzoo model
but its `predictions`) is what a later run starts from (`--weights`) and
what `kzoo select` embeds with.

On several replicas every replica gathers the projections of the whole
global batch (`ReplicaContext.all_gather`, whose gradient returns each
replica its share), so the negatives, the loss and the update are those of
one device with the same global batch. Compare keras-cv's `SimCLRTrainer`
and the keras.io example `semisupervised_simclr.py`, which contrast within
a replica's batch only.

Reference: Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for
Contrastive Learning of Visual Representations", ICML 2020.
"""

import keras
import tensorflow as tf

from kzoo.training.wrapper import IMAGES, LossTerms, WrapperModel

VIEWS = "views"
ENCODER_OUTPUT = "predictions"  # the encoder ends at this layer's input


def encoder_of(model):
    """`model` up to the input of its `predictions` layer (the same layer
    objects): the features its classifier reads.

    Raises:
        ValueError: `model` has no `predictions` layer.
    """
    names = [layer.name for layer in model.layers]
    if ENCODER_OUTPUT not in names:
        raise ValueError(f"Expected a classifier with a layer named "
                         f"{ENCODER_OUTPUT!r}. Received: layers {names[-3:]}")
    features = model.get_layer(ENCODER_OUTPUT).input
    return keras.Model(model.input, features, name=f"{model.name}_encoder")


def with_projection(encoder, projection_dim=128, hidden_dim=None):
    """`encoder` followed by SimCLR's projection head (Dense - ReLU -
    Dense), as one functional model on the encoder's layers.

    SimCLR's code puts batch normalization in the head; here it is left
    out so that several replicas train exactly as one device (Keras's
    synchronized batch normalization did not: 0.07 apart after 6 steps).
    """
    hidden_dim = hidden_dim or projection_dim
    x = keras.layers.Dense(hidden_dim, activation="relu",
                           name="projection_hidden")(encoder.output)
    z = keras.layers.Dense(projection_dim, name="projection")(x)
    return keras.Model(encoder.input, z, name=f"{encoder.name}_simclr")


def nt_xent(z1, z2, temperature, offset=0, z1_all=None, z2_all=None):
    """Per-anchor NT-Xent loss of the projections of two views.

    Anchor `i` of view 1 has its positive `z2[i]`; its negatives are the
    other `2N - 2` projections of both views (and symmetrically for view
    2). Similarities are cosines divided by `temperature`; the loss of an
    anchor is the cross-entropy of its positive among all `2N - 1`
    candidates. The mean over the `2N` values is SimCLR's loss.

    Args:
        z1, z2: `[n, d]` projections of this replica's images.
        temperature: The softmax temperature (SimCLR: 0.1 to 0.5).
        offset: Where this replica's images start in the global batch.
        z1_all, z2_all: `[N, d]` projections of the global batch (default:
            `z1`, `z2`: one device).

    Returns:
        float32 `[2n]`: view 1's anchors, then view 2's.
    """
    z1_all = z1 if z1_all is None else z1_all
    z2_all = z2 if z2_all is None else z2_all
    normal = [tf.math.l2_normalize(tf.cast(z, tf.float32), axis=1)
              for z in (z1, z2, z1_all, z2_all)]
    local = tf.concat(normal[:2], axis=0)             # [2n, d]
    candidates = tf.concat(normal[2:], axis=0)        # [2N, d]
    n = tf.shape(z1)[0]
    total = tf.shape(z1_all)[0]
    rows = tf.range(n) + offset
    own = tf.concat([rows, rows + total], axis=0)     # each anchor's column
    positive = tf.concat([rows + total, rows], axis=0)
    logits = tf.matmul(local, candidates, transpose_b=True) / temperature
    logits = tf.where(tf.one_hot(own, 2 * total) > 0, -1e9, logits)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(positive, logits)


def _gathered(z1, z2):
    """`(offset, z1_all, z2_all)` over the replicas in sync (one device:
    `(0, z1, z2)`)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, z1, z2
    sizes = context.all_gather(tf.shape(z1)[:1], axis=0)
    replica = context.replica_id_in_sync_group
    offset = tf.reduce_sum(sizes[:replica])
    return offset, context.all_gather(z1, axis=0), context.all_gather(z2, axis=0)


class SimCLRModel(WrapperModel):
    """Trains `network` (encoder + projection head) with NT-Xent.

    Batches are `{"images": view_1, "views": view_2}` (no labels): two
    augmentations of the same images. Both views go through the network in
    one training-mode pass (batch normalization sees both, as in SimCLR).
    Logs `loss`.

    Args:
        network: Images -> projections, e.g. `with_projection(encoder)`.
        temperature: NT-Xent temperature (default 0.2).
        **kwargs: `WrapperModel` arguments.

    Example:
        >>> encoder = encoder_of(create_model("lenet5", num_classes=10))
        >>> model = SimCLRModel(with_projection(encoder), temperature=0.2)
        >>> model.compile(keras.optimizers.Adam(1e-3))
        >>> model.fit(simclr_batches(pool, 256, augment), ...)
    """

    def __init__(self, network, temperature=0.2, **kwargs):
        if not temperature > 0:
            raise ValueError("`temperature` must be > 0. "
                             f"Received: temperature={temperature!r}")
        super().__init__(network, **kwargs)
        self.temperature = float(temperature)

    def forward(self, x, y, sample_weight=None, training=False):
        first, second = x[IMAGES], x[VIEWS]
        n = tf.shape(first)[0]
        z = self.network(tf.concat([first, second], axis=0), training=training)
        z1, z2 = z[:n], z[n:]
        offset, z1_all, z2_all = _gathered(z1, z2)
        values = nt_xent(z1, z2, self.temperature, offset, z1_all, z2_all)
        return LossTerms({"loss": values}, z1)
