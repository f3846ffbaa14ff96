"""Shared test setup, and the suite's two tiers.

Default tier, `python -m pytest` (README command 2): fast and in-process, a
few minutes on two cores, and it still imports and exercises every kzoo
module. The `large` tier holds what crosses a process boundary or runs
long: the fresh-virtualenv install, SIGKILL and resume, two workers,
bit-identical reruns, export and decode subprocesses, the longest
end-to-end runs. Run it with `python -m pytest -m large`; every tier at
once with `python -m pytest -m "large or not large"`. `.ci/run` runs both,
so CI still runs every test. As in keras-hub's conftest.py, heavy tests are
marked and left out by default, but here they are deselected (counted in
the summary), never skipped.
"""

import ipaddress
import os
import socket
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so that tests can compare a MirroredStrategy over
# two replicas with one device. Must happen before TensorFlow initialises its
# runtime; ops still run on /CPU:0 unless a strategy places them.
REPLICA_DEVICES = ("/cpu:0", "/cpu:1")
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * len(REPLICA_DEVICES),
)


# A full `gc.collect()` after every test (what `clear_session()` does by
# default) cost 0.45 s per test here, 206 s of a 742 s suite; Python's own
# generational collection runs anyway, and a full one every
# `FULL_COLLECTION_EVERY` tests keeps memory bounded.
FULL_COLLECTION_EVERY = 40
_tests_run = [0]


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    _tests_run[0] += 1
    keras.backend.clear_session(
        free_memory=_tests_run[0] % FULL_COLLECTION_EVERY == 0)


# Nothing in the suite may reach the network: a connection from this process
# to anything but this machine (the multi-worker tests use 127.0.0.1) fails
# the test that made it, whatever library tried (keras.utils.get_file, TFDS,
# urllib). Download paths are tested against pre-seeded caches.
_connect = socket.socket.connect


def _local(address):
    if not isinstance(address, tuple):  # AF_UNIX: a path
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name: resolving it is already the network
        return False


def _connect_locally(self, address):
    if not _local(address):
        raise AssertionError(f"a test tried to reach the network: {address!r}")
    return _connect(self, address)


socket.socket.connect = _connect_locally


# Libraries' temporary files go under pytest's own temporary folder of this
# run (which pytest prunes, keeping the last 3 runs), not the system's:
# TFDS leaves an empty `tmp*tfds` folder there each time a builder is made
# for a dataset that is not prepared (`DatasetInfo.initialize_from_bucket`
# makes it before it finds nothing to copy), and the suite made hundreds.
SYSTEM_TEMP = tempfile.gettempdir()


@pytest.fixture(autouse=True, scope="session")
def _temporary_files_in_pytest_basetemp(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library-temp", numbered=False)
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    yield folder
    tempfile.tempdir = previous
