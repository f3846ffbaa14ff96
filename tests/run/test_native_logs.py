"""The native-noise filter drops exactly TensorFlow's known lines."""

import pytest

from kzoo.run.native_logs import NOISE

DROPPED = [
    "WARNING: All log messages before absl::InitializeLog() is called are "
    "written to STDERR",
    "I0000 00:00:1796161229.177876   10114 port.cc:153] oneDNN custom "
    "operations are on. You may see slightly different numerical results",
    "I0000 00:00:1796161229.178836   10114 cudart_stub.cc:31] Could not find "
    "cuda drivers on your machine, GPU will not be used.",
    "W0000 00:00:1796163678.314669   16035 kernel.cc:123] The calling iterator "
    "did not fully read the dataset being cached. In order to avoid unexpected "
    "truncation of the dataset, the partially cached contents of the dataset "
    "will be discarded.",
]
KEPT = [
    "Traceback (most recent call last):",
    "error: --lr: must be a finite number > 0, got nan",
    "W0000 00:00:1796163678.3 op_level.cc:1] INVALID_ARGUMENT: assertion failed: "
    "[image 2 of the batch cannot be read or decoded]",
    "ResourceExhaustedError: OOM when allocating tensor",
]


@pytest.mark.parametrize("line", DROPPED)
def test_known_native_lines_are_dropped(line):
    assert NOISE.search(line)


@pytest.mark.parametrize("line", KEPT)
def test_everything_else_passes(line):
    assert not NOISE.search(line)
