"""The API replay with scripted faults and a request log, for the tests.

``ScriptedReplay`` is the package's ``ReplayServer`` (which serves the demo) plus what only tests
need: every request is recorded in ``.requests``, and ``add_fault`` queues answers that replace
the normal one for the next requests whose path starts with a prefix. Besides a status, headers,
a body and a delay, a fault can break the connection half-way through the body (``cut_after``),
stream a body of any size without holding it (``stream_bytes``), or send its answer a byte at a time
(``trickle``).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from starlink42k.replay import ReplayServer, Reply

BLOCK = 2**16


@dataclass
class Fault:
    """One scripted answer that replaces the normal one for the next matching request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # raw body; None keeps the normal body (with this status)
    content_type: str | None = None  # None keeps the normal one
    delay: float = 0.0  # seconds to wait before answering (longer than the client timeout = timeout)
    # Send the headers (with the full Content-Length) and this many bytes of the body, then reset
    # the connection (TCP RST), as a proxy or a load balancer dropping it does.
    cut_after: int | None = None
    # Stream a body of this many bytes (``body`` repeated, chunked, no Content-Length).
    stream_bytes: int | None = None
    # Send the answer one byte every this many seconds, from its status line (``trickle_body_only``:
    # the headers at once, then the body), until the client goes away.
    trickle: float | None = None
    trickle_body_only: bool = False


@dataclass
class FaultyReply(Reply):
    fault: Fault | None = None


class ScriptedReplay(ReplayServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: list[dict[str, Any]] = []  # method, path, query, body, at (monotonic), wall
        self._lock = threading.Lock()

    def add_fault(self, path: str, *faults: Fault) -> None:
        """Script answers for requests whose path starts with ``path`` (e.g. ``/v4/starlink``)."""
        with self._lock:
            self.faults.setdefault(path, deque()).extend(faults)

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for prefix, queue in self.faults.items():
                if path.startswith(prefix) and queue:
                    return queue.popleft()
        return None

    def answer(self, method: str, path: str, query: str, body: bytes) -> Reply:
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "body": body,
                    "at": time.monotonic(),
                    "wall": time.time(),
                }
            )
        reply = super().answer(method, path, query, body)
        fault = self._next_fault(path)
        if fault is None:
            return reply
        if fault.delay:
            time.sleep(fault.delay)
        body = reply.body if fault.body is None else fault.body
        content_type = fault.content_type or reply.content_type
        return FaultyReply(fault.status, content_type, body, fault.headers, fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        fault = reply.fault if isinstance(reply, FaultyReply) else None
        if fault is not None and fault.trickle is not None:
            self._trickle(handler, reply, fault)
            return
        if fault is None or (fault.cut_after is None and fault.stream_bytes is None):
            super().send(handler, reply)
            return
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers.items():
                handler.send_header(k, v)
            if fault.stream_bytes is not None:
                self._stream(handler, reply.body or b" ", fault.stream_bytes)
                return
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body[: fault.cut_after])
            handler.wfile.flush()
            # SO_LINGER 0: close() sends RST, not FIN: the client sees "connection reset by peer".
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.close_connection = True
            handler.connection.close()
        except OSError:  # the client gave up (or refused the rest): what the fault is for
            handler.close_connection = True

    @staticmethod
    def _trickle(handler: BaseHTTPRequestHandler, reply: Reply, fault: Fault) -> None:
        headers = {"Content-Type": reply.content_type, "Content-Length": str(len(reply.body)), **reply.headers}
        head = f"HTTP/1.1 {reply.status} OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        data = head.encode() + reply.body
        sent = len(head) if fault.trickle_body_only else 0
        handler.close_connection = True
        try:
            handler.wfile.write(data[:sent])
            give_up = time.monotonic() + 600  # never outlive a test by much
            while sent < len(data) and time.monotonic() < give_up:
                handler.wfile.write(data[sent : sent + 1])
                sent += 1
                time.sleep(fault.trickle)
        except OSError:  # the client gave up: what the fault is for
            pass

    @staticmethod
    def _stream(handler: BaseHTTPRequestHandler, unit: bytes, size: int) -> None:
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        block = (unit * (BLOCK // len(unit) + 1))[:BLOCK]
        sent = 0
        while sent < size:
            part = block[: min(BLOCK, size - sent)]
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            sent += len(part)
        handler.wfile.write(b"0\r\n\r\n")
        handler.close_connection = True
