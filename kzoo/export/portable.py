"""LiteRT (`.tflite`) and ONNX files of a trained model.

Both take the float-tensor model: `images` float32 `[N, H, W, C]`, pixel
values in [0, 255] at the model's own size and channels, any batch size N;
the model's preprocessing (scaling, mean subtraction) is inside. Both
return `logits` and `probabilities`, float32 `[N, num_classes]` (a
multi-output model: `<task>_logits`, `<task>_probabilities` per task).
Decoding and resizing stay outside: LiteRT has no image-decoding kernels
and ONNX Runtime none either, so the caller decodes and resizes (see
`model_card.json`, `kzoo.export.card`).

A model trained in mixed precision is written in float32 (its weights
copied into a float32 build of the same architecture): the runtimes'
portable kernels are float32.

LiteRT goes through Keras's own `model.export(format="litert")` (the
converter is TensorFlow's); the `ai-edge-litert` package (extra `litert`)
only runs the file. ONNX goes through `tf2onnx` (extra `onnx`) from the
frozen graph of the same function: Keras's own `format="onnx"` leaves the
constants of a `Normalization` layer as graph inputs, so a VGG or AlexNet
file would ask the caller for the mean. `check_dependencies` imports what
the requested formats need before anything is written.
"""

import contextlib
import importlib
import importlib.metadata
import io

import keras
import tensorflow as tf

from kzoo.errors import KzooError
from kzoo.export.saved_model import per_task
from kzoo.models.depthwise import plain_depthwise
from kzoo.outputs import atomic_path

INPUT_NAME = "images"
ONNX_OPSET = 17
# What writing each format imports beyond TensorFlow and Keras: (module,
# the kzoo extra that installs it). LiteRT's converter is TensorFlow's own.
NEEDS = {"onnx": (("tf2onnx", "onnx"),)}


def inference_model(model):
    """`model` as a functional model from `images` to `{logits,
    probabilities}` in float32 (per task for a dict-output model)."""
    model = float32_model(model)
    images = keras.Input(model.input_shape[1:], name=INPUT_NAME, dtype="float32")
    outputs = {}
    for _, prefix, value in per_task(model(images, training=False)):
        value = keras.layers.Activation("linear", dtype="float32",
                                        name=f"{prefix}logits")(value)
        outputs[f"{prefix}logits"] = value
        outputs[f"{prefix}probabilities"] = keras.layers.Softmax(
            dtype="float32", name=f"{prefix}probabilities")(value)
    return keras.Model(images, outputs, name=f"{model.name}_inference")


def float32_model(model):
    """`model` itself if it computes in float32, else a float32 build of
    its architecture holding its weights."""
    policies = {layer.dtype_policy.name for layer in _all_layers(model)}
    if policies <= {"float32"}:
        return model
    config = _float32_config(model.get_config())
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def _all_layers(model):
    yield from model._flatten_layers(include_self=False)


def _float32_config(value):
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy" or (
                value.get("class_name") == "FloatDTypePolicy"):
            return {**value, "config": {**value["config"], "name": "float32"}}
        return {k: _float32_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_float32_config(v) for v in value]
    return value


def _input_spec(model):
    height, width, channels = model.input_shape[1:]
    return tf.TensorSpec([None, height, width, channels], tf.float32,
                         name=INPUT_NAME)


def export_litert(model, path):
    """Write `model` as a LiteRT flatbuffer at `path` (atomically); its path.

    Raises:
        KzooError: The converter failed (its first line is given), or the
            write did (a full disk, a read-only folder: the file is named
            and no part of it is left).
    """
    wrapped = inference_model(model)
    with atomic_path(path) as tmp, _quiet():
        try:
            wrapped.export(tmp, format="litert", verbose=False,
                           input_signature=[_input_spec(wrapped)])
        except OSError:
            raise  # a failed write (a full disk): `atomic_path` names the file
        except Exception as err:  # the converter raises many kinds
            raise KzooError(f"LiteRT conversion failed: {_first_line(err)}") \
                from err
    return path


def export_onnx(model, path, opset=ONNX_OPSET):
    """Write `model` as an ONNX file at `path` (atomically); its path.

    Inputs and outputs keep their names (`images`, `logits`,
    `probabilities`); the batch dimension is dynamic.

    Raises:
        KzooError: `tf2onnx` is not installed (extra `onnx`), the
            conversion failed, or the write did (the file is named and no
            part of it is left).
    """
    tf2onnx = require("tf2onnx", "onnx", what="ONNX export")
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    wrapped = plain_depthwise(inference_model(model))
    names = list(wrapped.output_names)

    @tf.function(input_signature=[_input_spec(wrapped)])
    def forward(images):
        outputs = wrapped(images, training=False)
        return {name: tf.identity(outputs[name], name=name) for name in names}

    concrete = forward.get_concrete_function()
    with _quiet():
        frozen = convert_variables_to_constants_v2(concrete)
    graph_def = frozen.graph.as_graph_def()
    inputs = [t.name for t in frozen.inputs]
    outputs = [t.name for t in frozen.outputs]
    try:
        with _quiet():
            proto, _ = tf2onnx.convert.from_graph_def(
                graph_def, input_names=inputs, output_names=outputs,
                opset=opset, custom_op_handlers={"Erfc": (_erfc, [])})
    except Exception as err:
        raise KzooError(f"ONNX conversion failed: {_first_line(err)}") from err
    _check_onnx(proto)
    # The frozen outputs come in the order the output dict flattens: by key.
    flat_names = tf.nest.flatten({k: k for k in concrete.structured_outputs})
    _rename(proto, {inputs[0]: INPUT_NAME, **dict(zip(outputs, flat_names))})
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(proto.SerializeToString())
    return path


def _check_onnx(proto):
    """Raise unless `proto` is a valid ONNX model: tf2onnx leaves an op it
    cannot convert in the graph (it continues on errors) and the file would
    only fail where it is loaded.

    Raises:
        KzooError: Naming the ops ONNX has no definition for.
    """
    import onnx

    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        ops = sorted({node.op_type for node in proto.graph.node
                      if not onnx.defs.has(node.op_type)})
        raise KzooError(
            "ONNX conversion left TensorFlow ops that ONNX does not define "
            f"({', '.join(ops) or 'see below'}); no file was written: "
            f"{_first_line(err)}") from None


def _erfc(ctx, node, name, args):
    """tf2onnx handler of TensorFlow's `Erfc` (exact GELU): 1 - Erf(x)."""
    import numpy as np
    from tf2onnx import utils

    erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
    one = ctx.make_const(utils.make_name("erfc_one"),
                         np.array(1, dtype=np.float32))
    node.type = "Sub"
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])
    return node


def _rename(proto, names):
    """Rename graph inputs/outputs (`images:0` -> `images`) everywhere."""
    graph = proto.graph
    for value in list(graph.input) + list(graph.output):
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]


def check_dependencies(formats, flag="--export"):
    """Import what writing each of `formats` needs (`NEEDS`), so that a
    missing package is found before any file is written.

    Raises:
        KzooError: One line naming each format (as `flag` gave it) whose
            package cannot be imported, and how to install it.
    """
    missing = []
    for name in dict.fromkeys(formats):
        for module, extra in NEEDS.get(name, ()):
            try:
                require(module, extra, what=f"{flag} {name}")
            except KzooError as err:
                missing.append(str(err))
    if missing:
        raise KzooError("; ".join(missing))


def require(module, extra, what="This"):
    """Import `module`, or a clear error saying that `what` needs it and
    what installs it: the packages of kzoo's `extra` (kzoo is installed
    from its clone, not from a package index)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        packages = " ".join(f"'{p}'" for p in extra_packages(extra)) or module
        raise KzooError(
            f"{what} needs the '{module}' package, which cannot be imported "
            f"({_first_line(err)}): pip install {packages} (kzoo's '{extra}' "
            f"extra; in a kzoo clone: pip install '.[{extra}]')") from None


def extra_packages(extra):
    """The requirements of kzoo's optional `extra` as its installed
    metadata lists them (`["tf2onnx>=1.17", ...]`); `[]` where unknown."""
    try:
        requires = importlib.metadata.requires("kzoo") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return []
    packages = []
    for requirement in requires:
        name, _, marker = requirement.partition(";")
        if f'extra == "{extra}"' in marker.replace("'", '"'):
            packages.append(name.strip())
    return packages


@contextlib.contextmanager
def _quiet():
    """Keep the converters' Python-side chatter off the console: their
    prints, and TensorFlow's deprecation warnings about the TF1 graph
    utilities that freezing and tf2onnx use."""
    from tensorflow.python.util import deprecation

    with contextlib.redirect_stdout(io.StringIO()), deprecation.silence():
        yield


def _first_line(err):
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
