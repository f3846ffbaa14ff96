"""kzoo's own test helpers (also useful to users testing their exports)."""

from kzoo.testing.images import make_image_folder, write_image
from kzoo.testing.round_trips import (
    assert_keras_round_trip,
    assert_saved_model_parity,
)
from kzoo.testing.serving import rest_request_to_inputs

__all__ = [
    "assert_keras_round_trip",
    "assert_saved_model_parity",
    "make_image_folder",
    "rest_request_to_inputs",
    "write_image",
]
