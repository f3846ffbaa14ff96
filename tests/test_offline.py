"""The suite is offline by construction (tests/conftest.py): connections
leave this machine only to fail the test that made them."""

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
