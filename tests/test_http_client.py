"""HTTP_DEADLINE on a body without a length (HTTP/1.0, ended by closing the connection): when the
deadline shuts the socket down the read ends as a clean end of file, which must not pass for the
whole body. A real server on loopback, sending a byte every 0.2 s."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from starlink42k.errors import SourceUnreachable
from starlink42k.http_client import HttpClient, RetryPolicy


@pytest.fixture
def trickling_server() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[")
            try:
                while not stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(0.2)
            except OSError:  # the client shut its socket down
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v4/starlink"
    stop.set()
    listener.close()


def test_a_body_without_a_length_cut_at_the_deadline_is_refused(trickling_server: str) -> None:
    client = HttpClient(RetryPolicy(max_attempts=1, backoff_seconds=0.0, timeout_seconds=5, deadline_seconds=1.0))
    started = time.monotonic()
    with pytest.raises(SourceUnreachable, match=r"was not answered in full within 1s \(HTTP_DEADLINE"):
        client.request("GET", trickling_server, what="starlink page 1")
    assert time.monotonic() - started < 4
