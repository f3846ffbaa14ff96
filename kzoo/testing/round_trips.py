"""Save/load round trips that every shipped model must survive."""

import os

import keras
import numpy as np

from kzoo.export import SERVING_TENSORS, export_saved_model, load_serving_signature


def assert_keras_round_trip(model, x, directory, atol=1e-6):
    """`.keras` save -> load (no custom_objects) gives the same outputs."""
    path = os.path.join(directory, f"{model.name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        np.asarray(restored(x, training=False)),
        np.asarray(model(x, training=False)),
        atol=atol,
    )
    return restored


def assert_saved_model_parity(model, x, directory, class_names=None, atol=1e-5):
    """Exported `serving_tensors` probabilities equal softmax(model(x))."""
    num = model.output_shape[-1]
    class_names = class_names or [str(i) for i in range(num)]
    version_dir = export_saved_model(model, directory, class_names)
    serve = load_serving_signature(version_dir, SERVING_TENSORS)
    got = serve(images=keras.ops.convert_to_tensor(x))["probabilities"].numpy()
    want = np.asarray(keras.ops.softmax(model(x, training=False)))
    np.testing.assert_allclose(got, want, atol=atol)
    return version_dir
