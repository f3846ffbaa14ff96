"""The suite is offline by construction (tests/conftest.py): connections
leave this machine only to fail the test that made them; and libraries'
temporary files stay in pytest's temporary folder."""

import os
import socket

import pytest


def test_a_connection_off_this_machine_fails_the_test():
    with socket.socket() as s, pytest.raises(AssertionError, match="network"):
        s.connect(("203.0.113.1", 80))  # TEST-NET-3: never routed
    with socket.socket() as s, pytest.raises(AssertionError, match="network"):
        s.connect(("example.com", 443))


def test_loopback_connections_still_work():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            accepted, _ = server.accept()
            accepted.close()


def test_library_temporary_files_stay_in_pytest_basetemp(
        _temporary_files_in_pytest_basetemp):
    import tempfile

    import tensorflow_datasets as tfds

    from tests.conftest import SYSTEM_TEMP

    def leftovers():
        return {n for n in os.listdir(SYSTEM_TEMP) if n.endswith("tfds")}

    before = leftovers()
    with tempfile.TemporaryDirectory() as data_dir:  # nothing prepared there
        tfds.builder("mnist", data_dir=data_dir)
    assert leftovers() == before
    assert tempfile.gettempdir() == str(_temporary_files_in_pytest_basetemp)
    assert any(n.endswith("tfds")
               for n in os.listdir(_temporary_files_in_pytest_basetemp))
