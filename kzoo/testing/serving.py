"""Turn a TF Serving REST `predict` body into signature inputs.

Follows the TF Serving REST API: the row format `{"instances": [...]}` and
the columnar format `{"inputs": ...}`; a `{"b64": "..."}` object stands for
the base64-decoded bytes of a string tensor. With one named input, instances
may be bare values; otherwise each instance is a dict of input name -> value.
"""

import base64

import numpy as np
import tensorflow as tf


def _decode_value(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value


def _to_tensor(value, spec):
    value = _decode_value(value)
    if spec.dtype == tf.string:
        return tf.constant(np.array(value, dtype=object), dtype=tf.string)
    return tf.constant(value, dtype=spec.dtype)


def rest_request_to_inputs(body, signature):
    """Map a parsed REST body to keyword tensors for `signature(**inputs)`.

    Args:
        body: The parsed JSON body (a dict).
        signature: A concrete function from `loaded.signatures[...]`.

    Returns:
        A dict of input name -> tensor.

    Raises:
        ValueError: On a body that is neither form, or names unknown inputs.
    """
    specs = signature.structured_input_signature[1]
    names = sorted(specs)
    if "instances" in body:
        rows = body["instances"]
        named = bool(rows) and isinstance(rows[0], dict) and set(rows[0]) != {"b64"}
        if named:
            columns = {n: [row[n] for row in rows] for n in names}
        elif len(names) == 1:
            columns = {names[0]: rows}
        else:
            raise ValueError(f"Instances must be dicts of the inputs {names}.")
    elif "inputs" in body:
        inputs = body["inputs"]
        columns = inputs if isinstance(inputs, dict) else {names[0]: inputs}
    else:
        raise ValueError("A predict body needs 'instances' or 'inputs'.")
    unknown = set(columns) - set(names)
    if unknown:
        raise ValueError(f"Unknown inputs {sorted(unknown)}; expected {names}.")
    return {n: _to_tensor(columns[n], specs[n]) for n in names}
