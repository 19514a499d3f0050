"""The API replay with scripted faults and a request log, for the tests.

``ScriptedReplay`` is the package's ``ReplayServer`` (which serves the demo) plus what only tests
need: every request is recorded in ``.requests``, and ``add_fault`` queues answers that replace
the normal one for the next requests whose path starts with a prefix.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlink42k.replay import ReplayServer, Reply


@dataclass
class Fault:
    """One scripted answer that replaces the normal one for the next matching request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # raw body; None keeps the normal body (with this status)
    delay: float = 0.0  # seconds to wait before answering (longer than the client timeout = timeout)


class ScriptedReplay(ReplayServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: list[dict[str, Any]] = []
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
            self.requests.append({"method": method, "path": path, "query": query, "body": body})
        reply = super().answer(method, path, query, body)
        fault = self._next_fault(path)
        if fault is None:
            return reply
        if fault.delay:
            time.sleep(fault.delay)
        body = reply.body if fault.body is None else fault.body
        return Reply(fault.status, reply.content_type, body, fault.headers)
