"""SavedModel export with TF Serving signatures.

`export_saved_model(model, base_dir, class_names)` writes the next integer
version folder (`base_dir/1`, `base_dir/2`, ...), the layout TF Serving
watches. The folder is written under a temporary name in `base_dir` and
renamed at the end, so a server never sees a half-written version; two
exports into one base folder at once get two numbers. Folders and files
follow the umask, so a server running as another user can read them.

Signatures:
- `serving_default(images: tf.string [N])`: encoded JPEG/PNG/BMP/GIF/WebP
  images; decode, channel conversion and resize happen in the graph. An
  image whose header declares more than `max_image_pixels` pixels is never
  decoded, and a batch holding one (or an image that does not decode) fails
  with an error naming its index, e.g. `image 3 of the batch cannot be read
  or decoded as a JPEG, PNG, BMP, GIF or WebP image` (one status a request,
  as TF Serving has).
- `serving_tensors(images: float32 [N, H, W, C])`: pixel values in [0, 255],
  any size and 1, 3 or 4 channels; converted and resized in the graph.
Both return `logits` float32 [N, num_classes], `probabilities` float32
[N, num_classes], `class_ids` int64 [N] and `classes` string [N], with N = 0
for an empty batch (the model is not run). A model
with several outputs (a dict of logits per task, e.g. `LwFModel.network`)
returns these four per task, prefixed: `old_classes`, `new_classes`, ...

The version folder also holds the Keras model as `assets.extra/model.keras`
(TF Serving ignores `assets.extra`), so an export can be a transfer-learning
source or a teacher with its layers intact (`kzoo.training.load_model_source`).
"""

import errno
import os
import re
import shutil

import keras
import tensorflow as tf

from kzoo.data import images as image_ops
from kzoo.outputs import TAG_PATTERN, orphaned, temporary_tag

SERVING_DEFAULT = "serving_default"
SERVING_TENSORS = "serving_tensors"
KERAS_MODEL_FILE = os.path.join("assets.extra", "model.keras")
# Versions tried in turn when concurrent exports keep taking the next one.
_MAX_CLAIMS = 100
# Images that a request decodes at once when it decodes them one by one.
_PARALLEL_DECODES = 4
# Images of the model's size decoded an iteration of the decoding loop.
_UNROLL = 8


def versions(base_dir):
    """The numbered version folders' numbers under `base_dir`, sorted."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(int(d) for d in os.listdir(base_dir)
                  if re.fullmatch(r"\d+", d))


def next_version(base_dir):
    """The next TF Serving version number under `base_dir` (1 if none)."""
    return max(versions(base_dir), default=0) + 1


def output_classes(model, class_names):
    """`{output name: class names}` checked against the model's outputs.

    A single-output model has the output name `""`; `class_names` is then a
    list. A model returning a dict of logits takes a dict of lists.
    """
    outputs = getattr(model, "output", None)
    if isinstance(outputs, dict):
        shapes = {key: tensor.shape for key, tensor in outputs.items()}
    else:
        shapes = model.output_shape
    if not isinstance(shapes, dict):
        shapes, class_names = {"": shapes}, {"": class_names}
    elif not isinstance(class_names, dict) or set(class_names) != set(shapes):
        raise ValueError(
            f"A model with outputs {sorted(shapes)} needs class names for each, "
            f"as a dict. Received: class_names={class_names!r}"
        )
    for key, shape in shapes.items():
        if len(class_names[key]) != shape[-1]:
            raise ValueError(
                f"Got {len(class_names[key])} class names for a model output "
                f"{key!r} with {shape[-1]} classes."
            )
    return class_names


def per_task(logits):
    """`[(task, output-name prefix, logits)]` of a model's output: one
    `("", "", logits)`, or one per task of a dict (`("old", "old_", ...)`)."""
    if not isinstance(logits, dict):
        return [("", "", logits)]
    return [(key, f"{key}_", value) for key, value in logits.items()]


def _serving_functions(model, names_by_output, max_pixels):
    height, width, channels = model.input_shape[1:]
    size = (height, width)
    names = {key: tf.constant([str(c) for c in value])
             for key, value in names_by_output.items()}

    def logits(batch):
        # The model is not run on an empty batch: TensorFlow's CPU
        # convolutions fail on one ("input depth must be evenly divisible by
        # filter depth: 3 vs 6" in LeNet-5), so 0 images get 0 rows of logits.
        def empty():
            zeros = {key: tf.zeros([0, len(value)], tf.float32)
                     for key, value in names_by_output.items()}
            return zeros[""] if list(zeros) == [""] else zeros

        def run():
            return tf.nest.map_structure(lambda value: tf.cast(value, tf.float32),
                                         model(batch, training=False))

        return tf.cond(tf.shape(batch)[0] > 0, run, empty)

    def outputs(batch):
        result = {}
        for key, prefix, value in per_task(logits(batch)):
            probabilities = tf.nn.softmax(value, axis=-1)
            class_ids = tf.argmax(probabilities, axis=-1)
            result[prefix + "logits"] = value
            result[prefix + "probabilities"] = probabilities
            result[prefix + "class_ids"] = class_ids
            result[prefix + "classes"] = tf.gather(names[key], class_ids)
        return result

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_encoded(images):
        return outputs(_decode_batch(images, size, channels, max_pixels))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, None], tf.float32, name="images")
        ]
    )
    def serve_tensors(images):
        # An empty batch of any image size (even 0x0) answers 0 rows.
        batch = tf.cond(
            tf.shape(images)[0] > 0,
            lambda: image_ops.to_model_input(images, size, channels),
            lambda: tf.zeros([0, height, width, channels], tf.float32))
        return outputs(tf.ensure_shape(batch, [None, height, width, channels]))

    return serve_encoded, serve_tensors


def _decode_batch(images, size, channels, max_pixels):
    """Encoded images `[N]` -> model inputs `[N, H, W, C]`, or an error naming
    the first bad image's index.

    The headers are read first (`declared_size`), and a batch with an image
    of an unknown format or over `max_pixels` fails before anything is
    decoded. Then the whole batch is decoded in one pass (`_decode_at_once`);
    only when that pass fails (an image whose data is corrupt or cut short)
    or holds a GIF or WebP is the batch decoded one image at a time
    (`_decode_each`), which names the first image that fails. Either way
    each image goes through the ops of `decode_to_model_input` (as in `kzoo
    predict` and the training pipeline), so both give the same pixels.
    """
    declared = image_ops.declared_size(images)
    known = tf.reduce_all(declared > 0, axis=1)
    over = known & ~image_ops.within_pixel_limit(declared, max_pixels)
    limit = tf.constant(max_pixels, tf.int64)

    def header_error(first):
        return tf.cond(
            over[first],
            lambda: tf.strings.format(
                "image {} of the batch " + image_ops.OVER_PIXEL_LIMIT,
                (first, declared[first, 0], declared[first, 1], limit),
            ),
            lambda: _not_decodable(first),
        )

    def each():
        decoded, batch = _decode_each(images, size, channels)
        with tf.control_dependencies([_check_each(~decoded, _not_decodable)]):
            return tf.identity(batch)

    with tf.control_dependencies([_check_each(~known | over, header_error)]):
        ok, batch = _decode_at_once(images, declared, size, channels)
    batch = tf.cond(ok, lambda: tf.identity(batch), each)
    return tf.ensure_shape(batch, [None, *size, channels])


def _decode_at_once(images, declared, size, channels):
    """`(True, model inputs [N, H, W, C])`, or `(False, [0, H, W, C])` when an
    image fails to decode or is a GIF or WebP.

    A graph cannot catch a failing op, but a `tf.data` pass can drop the
    element it fails on (`ignore_errors`): the whole batch is one element
    here, so the pass costs about as much for 256 images as for one, where
    a pass of one element an image (`_decode_each`) costs ~25 us an image
    before any decoding. JPEG, PNG and BMP images that all declare the
    model's size and decode to the same channels are converted as one batch
    (`_at_model_size`); other sizes and channels image by image
    (`_one_by_one`). A batch with a GIF or WebP is left to `_decode_each`,
    whose `decode_to_model_input` cuts an animation to its first frame.
    """
    shape = tf.constant([*size], tf.int64)

    def decode_all(images, declared):
        magic = tf.strings.substr(images, 0, 4)
        plain = ~tf.reduce_any(tf.equal(magic, b"GIF8") | tf.equal(magic, b"RIFF"))
        pixels, depth = tf.cond(
            plain & tf.reduce_all(tf.equal(declared, shape)),
            lambda: _at_model_size(images, size, channels),
            lambda: (tf.zeros([0], tf.uint8), tf.constant(0)))
        batch = tf.cond(
            depth > 0,
            lambda: image_ops.to_model_input(
                tf.reshape(pixels, tf.stack([-1, *size, depth])), size, channels),
            lambda: tf.cond(plain, lambda: _one_by_one(images, size, channels),
                            lambda: tf.zeros([0, *size, channels])))
        return plain, tf.ensure_shape(batch, [None, *size, channels])

    failed = (False, tf.zeros([0, *size, channels], tf.float32))
    ds = tf.data.Dataset.from_tensors((images, declared)).map(decode_all)
    ds = ds.ignore_errors().concatenate(tf.data.Dataset.from_tensors(failed))
    return _lean(ds.take(1)).get_single_element()


def _one_by_one(images, size, channels):
    """`decode_to_model_input` of each JPEG, PNG or BMP image (without the
    `first_frame` that leaves it as it is), `_PARALLEL_DECODES` at once at
    most: one can take ~16 bytes a pixel while it is resized."""
    return tf.map_fn(
        lambda image: image_ops.to_model_input(image_ops.decode_still(image),
                                               size, channels),
        images, parallel_iterations=_PARALLEL_DECODES,
        fn_output_signature=tf.TensorSpec([*size, channels], tf.float32))


def _at_model_size(images, size, channels):
    """`(pixels, depth)` of JPEG, PNG or BMP images that all declare the
    model's `size`: their decoded pixels one after another, and the
    channels they share, or 0 (for no image, an image of another size or
    other channels, or an RGB image for a gray model).

    Pixels of one depth are converted as a batch, where the conversion
    copies channels (to RGB, or from gray) just as it does image by image;
    the luma of RGB is a matrix product, which might round otherwise in
    another shape, so a gray model's RGB images go one by one, as do
    batches of mixed channels.

    Images are decoded `_UNROLL` an iteration, then the rest one an
    iteration: a loop's own ops cost about as much as decoding a small PNG.
    """
    count = tf.shape(images)[0]

    def step(k):
        def body(i, pixels, shapes):
            for j in range(k):
                image = image_ops.decode_still(images[i + j])
                pixels = pixels.write(i + j, tf.reshape(image, [-1]))
                shapes = shapes.write(i + j, tf.shape(image))
            return i + k, pixels, shapes

        return body

    state = (0, tf.TensorArray(tf.uint8, count, infer_shape=False, element_shape=[None]),
             tf.TensorArray(tf.int32, count, element_shape=[3]))
    state = tf.while_loop(lambda i, *_: i + _UNROLL <= count, step(_UNROLL), state)
    _, pixels, shapes = tf.while_loop(lambda i, *_: i < count, step(1), state)
    shapes = shapes.stack()
    depth = tf.reduce_max(shapes[:, 2])
    shared = (count > 0) & tf.reduce_all(tf.equal(shapes, tf.stack([*size, depth])))
    if channels == 1:
        shared &= depth <= 2
    return pixels.concat(), tf.where(shared, depth, 0)


def _decode_each(images, size, channels):
    """`(decoded [N] bool, model inputs [M, H, W, C] of the M <= N images
    that decoded, in order)`.

    One `tf.data` pass decodes and converts the images on every core
    (`num_parallel_calls`, in order); `ignore_errors` drops an image that
    fails, so its index can be named. Built anew for each request that
    `_decode_at_once` failed on.
    """
    count = tf.shape(images)[0]
    ds = tf.data.Dataset.from_tensor_slices((tf.range(count), images))
    ds = ds.map(lambda i, s: (i, image_ops.decode_to_model_input(s, size, channels)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # One batch of all that decoded; `get_single_element`, not `reduce`
    # (whose loop cost 4x the decoding, 65 vs 16 ms for 256 PNGs).
    ds = ds.ignore_errors().batch(tf.cast(tf.maximum(count, 1), tf.int64))

    # When no image decoded there is no batch at all: an empty one follows,
    # for `take(1)` to fall back on (the check then names image 0).
    nothing = (tf.zeros([0], tf.int32), tf.zeros([0, *size, channels], tf.float32))
    indices, batch = _lean(ds.concatenate(tf.data.Dataset.from_tensors(
        nothing)).take(1)).get_single_element()
    decoded = tf.scatter_nd(indices[:, None], tf.ones_like(indices), [count]) > 0
    return decoded, batch


def _lean(ds):
    """`ds` without the optimisation passes and autotuning that pay off on a
    long input pipeline, not on a pass built for one request."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    return ds.with_options(options)


def _not_decodable(first):
    return tf.strings.format("image {} of the batch " + image_ops.NOT_DECODABLE,
                             (first,))


def _check_each(bad, message):
    """An op failing with `message(index)` of the first bad image, if any."""

    def fail():
        first = tf.where(bad)[0, 0]
        assertion = tf.debugging.Assert(~tf.reduce_any(bad), [message(first)])
        with tf.control_dependencies([assertion]):
            return tf.constant(False)

    return tf.cond(tf.reduce_any(bad), fail, lambda: tf.constant(True))


def export_saved_model(model, base_dir, class_names, version=None,
                       include_keras_model=True,
                       max_image_pixels=image_ops.MAX_IMAGE_PIXELS):
    """Export `model` with serving signatures as `base_dir/<version>`.

    Args:
        model: A Keras model taking float32 images in [0, 255] of a fixed
            `(height, width, channels)` and returning logits (or a dict of
            logits per task).
        base_dir: The model's TF Serving base folder.
        class_names: Names returned by the `classes` output (a dict of lists
            for a dict-output model).
        version: Version number; the next free one when None (claimed
            safely when several exports run at once).
        include_keras_model: Also write `assets.extra/model.keras`.
        max_image_pixels: `serving_default` refuses an image whose header
            declares more pixels (height * width), without decoding it.

    Returns:
        The path of the written version folder.

    Raises:
        FileExistsError: If `version` is given and already exists.
        ValueError: Class names that do not fit the model's outputs, or a
            `max_image_pixels` that is not a positive integer.
    """
    names_by_output = output_classes(model, class_names)
    max_pixels = image_ops.check_max_pixels(max_image_pixels)
    os.makedirs(base_dir, exist_ok=True)
    if version is not None:
        version = int(version)
        if os.path.lexists(os.path.join(base_dir, str(version))):
            raise _exists(base_dir, version)
    archive = keras.export.ExportArchive()
    archive.track(model)
    serve_encoded, serve_tensors = _serving_functions(model, names_by_output,
                                                      max_pixels)
    archive.add_endpoint(SERVING_DEFAULT, serve_encoded)
    archive.add_endpoint(SERVING_TENSORS, serve_tensors)
    remove_stale_temporaries(base_dir)
    # mkdir's default mode (0o777 less the umask), not mkdtemp's 0o700: the
    # version folder keeps this mode, and TF Serving may run as another user.
    tmp = os.path.join(base_dir, f"{_TMP_PREFIX}{temporary_tag()}")
    os.mkdir(tmp)
    try:
        archive.write_out(tmp, verbose=False)
        if include_keras_model:
            os.makedirs(os.path.join(tmp, os.path.dirname(KERAS_MODEL_FILE)),
                        exist_ok=True)
            model.save(os.path.join(tmp, KERAS_MODEL_FILE))
        return _publish(tmp, base_dir, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# An export writes into `.tmp-<host>-<pid>-<32 hex>` and renames it when whole.
_TMP_PREFIX = ".tmp-"
_TMP_NAME = re.compile(re.escape(_TMP_PREFIX) + TAG_PATTERN)


def remove_stale_temporaries(base_dir):
    """Remove the temporary folders of exports killed while writing (SIGKILL,
    out of memory, power loss), which nothing else would ever remove.

    A folder is stale when it was made on this machine by a process that is
    no longer running; another machine's (a shared file system) and a live
    process's are left alone, as is anything not named like kzoo's.
    """
    if os.name != "posix":
        return
    for name in os.listdir(base_dir):
        match = _TMP_NAME.fullmatch(name)
        if match and orphaned(match):
            shutil.rmtree(os.path.join(base_dir, name), ignore_errors=True)


def _publish(tmp, base_dir, version):
    """Rename the finished `tmp` folder to its version folder; its path.

    The rename is atomic, so a server sees a version whole or not at all, and
    it is also the claim of a number: rename(2) onto an existing non-empty
    folder fails (ENOTEMPTY/EEXIST), and every kzoo version folder is
    non-empty (a finished temporary folder renamed), so of two exports racing
    for one number exactly one wins and the other tries the next. rename(2)
    would replace an *empty* folder, so a number whose path exists is skipped
    before trying: an empty folder made by hand is left alone (short of one
    made in the instant between that check and the rename).
    """
    if version is not None:
        if not _rename_if_free(tmp, os.path.join(base_dir, str(version))):
            raise _exists(base_dir, version)
        return os.path.join(base_dir, str(version))
    number = next_version(base_dir)
    for _ in range(_MAX_CLAIMS):
        final = os.path.join(base_dir, str(number))
        if _rename_if_free(tmp, final):
            return final
        number = max(number + 1, next_version(base_dir))
    raise FileExistsError(
        f"Could not claim a free version folder in {base_dir}: {_MAX_CLAIMS} "
        f"numbers in a row were taken. Received: last tried version={number}"
    )


def _rename_if_free(tmp, final):
    if os.path.lexists(final):
        return False
    try:
        os.rename(tmp, final)
    except OSError as err:
        if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    return True


def _exists(base_dir, version):
    return FileExistsError(
        f"Version folder already exists: {os.path.join(base_dir, str(version))}"
    )


def load_serving_signature(path, name=SERVING_DEFAULT):
    """Load an exported SavedModel and return one of its signatures."""
    loaded = tf.saved_model.load(path)
    if name not in loaded.signatures:
        raise ValueError(
            f"SavedModel at {path} has no signature '{name}'. "
            f"Available: {sorted(loaded.signatures)}"
        )
    return loaded.signatures[name]
