"""A TCP proxy in front of a server (on a port, or a unix socket: moto's S3, PostgreSQL), which a case can
cut: the server keeps its state (moto's S3 lives in memory and would lose every object if it were
stopped), the client sees it go away.

Modes: ``pass`` forwards; ``down`` resets every connection, open or new (unreachable mid-upload);
``500`` answers every request with an HTTP 500 (a sick S3). ``cut()`` resets the open connections only."""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttableProxy:
    def __init__(self, target: int | str):
        """``target``: a port on loopback, or the path of a unix socket (PostgreSQL's)."""
        self.target = ("127.0.0.1", target) if isinstance(target, int) else target
        self.mode = "pass"
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        assert mode in ("pass", "down", "500")
        self.mode = mode
        if mode != "pass":
            self.cut()

    def cut(self) -> None:
        """Reset every open connection; in ``pass`` mode new ones go on being forwarded: a route that drops
        and comes back at once. (``down`` then ``pass`` leaves a moment, longer on a busy machine, in which
        a client that reconnects as soon as its connection is reset is refused too.)"""
        with self._lock:
            for sock in self._open:
                _reset(sock)
            self._open.clear()

    def close(self) -> None:
        self._closed = True
        self.set_mode("down")
        self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.mode == "down":
                _reset(client)
            elif self.mode == "500":
                threading.Thread(target=self._fail, args=(client,), daemon=True).start()
            else:
                threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _fail(self, client: socket.socket) -> None:
        body = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
        try:
            client.recv(65536)
            client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n")
            client.sendall(b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            client.close()

    def _forward(self, client: socket.socket) -> None:
        try:
            if isinstance(self.target, str):
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(self.target)
            else:
                upstream = socket.create_connection(self.target)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._open += [client, upstream]
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a dead peer or a dropped route looks to the client. The shutdown
    first: a close alone leaves the connection open while a forwarding thread is blocked reading it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    except OSError:
        pass
