"""The live server fixture's start: a port taken after it was chosen is not a failed test."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import LiveServer, free_port

pytestmark = pytest.mark.slow


def test_a_port_taken_before_the_first_start_moves_the_server_and_a_restart_keeps_its_port(
    tmp_path: Path,
) -> None:
    with socket.socket() as squatter:  # another suite on the machine took the port meanwhile
        port = free_port()
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        server = LiveServer(data_dir=tmp_path / "srv", port=port)
        server.data_dir.mkdir()
        server.create_operator()
        server.start()
        try:
            assert server.port != port
            assert httpx.get(server.api + "/health", timeout=10).status_code == 200
            moved = server.port
            server.stop()
            server.start()  # its clients know this port: a restart keeps it
            assert server.port == moved
        finally:
            server.stop()
    # a restart on a port someone took fails loudly instead of moving away from its clients
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", moved))
        squatter.listen()
        with pytest.raises(RuntimeError, match="address already in use"):
            server.start(timeout_s=60)
