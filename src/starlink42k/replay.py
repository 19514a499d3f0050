"""A local HTTP server that answers like the SpaceX API v4 and CelesTrak's SATCAT, from files.

Used by ``make demo`` and ``starlink42k replay`` (bundled sample data), by the Airflow and
container runs, and by the tests (tests/support/replay.py adds scripted faults and a request log
on top: ``answer`` and ``send`` are the two places a subclass changes). It implements what the
pipeline relies on: ``POST /v4/<route>/query`` with mongoose-paginate-v2 paging and sorting,
``GET /v4/<route>``, and ``GET /satcat/records.php`` in JSON and CSV.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from .sources.celestrak import FIELDS

SAMPLE_DIR = Path(__file__).parent / "sample_data"


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _lookup(doc: Any, path: str) -> Any:
    for part in ("id" if path == "_id" else path).split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _sort_key(value: Any) -> tuple:
    # MongoDB orders null before numbers before strings.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, expected in query.items():
        value = _lookup(doc, key)
        if isinstance(expected, dict) and "$in" in expected:
            if value not in expected["$in"]:
                return False
        elif value != expected:
            return False
    return True


def paginate(docs: list[dict[str, Any]], body: dict[str, Any], cache: dict | None = None) -> dict[str, Any]:
    """The response of ``POST /v4/<route>/query`` for ``body``, as mongoose-paginate-v2 builds it.
    ``cache`` keeps each query's sorted selection, so that paging through n documents costs
    n log n once, not once per page."""
    query = body.get("query") or {}
    options = body.get("options") or {}
    sort = options.get("sort") or {}
    if isinstance(sort, str):  # "-date_utc flight_number"
        sort = {k.lstrip("-"): ("desc" if k.startswith("-") else "asc") for k in sort.split()}
    key = (id(docs), len(docs), json.dumps([query, sort], sort_keys=True, default=str))
    selected = cache.get(key) if cache is not None else None
    if selected is None:
        selected = [d for d in docs if _matches(d, query)]
        for field_name, direction in reversed(list(sort.items())):
            descending = str(direction).lower() in ("desc", "descending", "-1")
            selected.sort(key=lambda d, k=field_name: _sort_key(_lookup(d, k)), reverse=descending)
        if cache is not None:
            cache.clear()  # one query pages at a time; keep only its selection
            cache[key] = selected
    total = len(selected)
    if options.get("pagination") is False:
        limit, page = max(total, 1), 1
    else:
        limit = int(options.get("limit") or 10)
        page = int(options.get("page") or 1)
    pages = max(1, math.ceil(total / limit)) if total else 1
    start = (page - 1) * limit
    return {
        "docs": selected[start : start + limit],
        "totalDocs": total,
        "offset": start,
        "limit": limit,
        "totalPages": pages,
        "page": page,
        "pagingCounter": start + 1,
        "hasPrevPage": page > 1,
        "hasNextPage": page < pages,
        "prevPage": page - 1 if page > 1 else None,
        "nextPage": page + 1 if page < pages else None,
    }


def _satcat_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for r in records:
        writer.writerow(["" if r.get(f) is None else r.get(f) for f in FIELDS])
    return out.getvalue().encode()


class ReplayServer:
    """``with ReplayServer(spacex={...}) as server: server.spacex_url`` — a thread on loopback."""

    def __init__(
        self,
        spacex: dict[str, list[dict[str, Any]]] | None = None,
        satcat: list[dict[str, Any]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.spacex = spacex or {}
        self.satcat = satcat or []
        self._pages: dict = {}  # paginate's cache
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @classmethod
    def from_directory(cls, directory: Path = SAMPLE_DIR, **kwargs: Any) -> ReplayServer:
        def read(name: str) -> Any:
            for path in (directory / name, directory / f"{name}.gz"):
                if path.exists():
                    raw = path.read_bytes()
                    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
            return None

        spacex = {
            route: docs for route in ("launches", "starlink") if (docs := read(f"spacex_{route}.json")) is not None
        }
        return cls(spacex=spacex, satcat=read("celestrak_satcat.json") or [], **kwargs)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def spacex_url(self) -> str:
        return f"{self.url}/v4"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="replay", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- request handling ---

    def answer(self, method: str, path: str, query: str, body: bytes) -> Reply:
        """The reply to one request (a test double overrides it to script faults)."""
        return Reply(*self._route(method, path, parse_qs(query), body))

    def send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        """Write the reply (a test double overrides it to cut a body short)."""
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for k, v in reply.headers.items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            pass

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "v4" and parts[1] in self.spacex:
            docs = self.spacex[parts[1]]
            if method == "POST" and parts[2:] == ["query"]:
                try:
                    request = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    return 400, "application/json", b'{"error":"invalid JSON body"}'
                return 200, "application/json", json.dumps(paginate(docs, request, self._pages)).encode()
            if method == "GET" and len(parts) == 2:
                return 200, "application/json", json.dumps(docs).encode()
            if method == "GET" and len(parts) == 3:
                found = [d for d in docs if d.get("id") == parts[2]]
                if found:
                    return 200, "application/json", json.dumps(found[0]).encode()
        if method == "GET" and path in ("/satcat/records.php", "/satcat/records"):
            return self._satcat(query)
        return 404, "application/json", b'{"error":"Not Found"}'

    def _satcat(self, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        params = {k.upper(): v[0] for k, v in query.items()}
        records = self.satcat
        if "NAME" in params:
            records = [r for r in records if params["NAME"].upper() in str(r.get("OBJECT_NAME", "")).upper()]
        elif "INTDES" in params:
            records = [r for r in records if str(r.get("OBJECT_ID", "")).startswith(params["INTDES"])]
        elif not {"GROUP", "SPECIAL"} & params.keys():
            return 400, "text/plain", b"Invalid query: give NAME, INTDES, CATNR, GROUP or SPECIAL"
        if params.get("PAYLOADS", "").upper() in ("1", "Y", "TRUE"):
            records = [r for r in records if r.get("OBJECT_TYPE") == "PAY"]
        if params.get("ACTIVE", "").upper() in ("1", "Y", "TRUE"):
            records = [r for r in records if r.get("OPS_STATUS_CODE") in ("+", "P", "B", "S", "X")]
        if not records:
            return 200, "text/plain", b"No SATCAT records found"
        if params.get("FORMAT", "").lower() == "csv":
            return 200, "text/csv", _satcat_csv(records)
        return 200, "application/json", json.dumps(records).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self, method: str) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.send(self, server.answer(method, parsed.path, parsed.query, body))

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler


def serve(directory: Path, host: str, port: int) -> None:  # pragma: no cover - interactive
    server = ReplayServer.from_directory(directory, host=host, port=port)
    print(
        f"replaying {directory} at {server.url} (SPACEX_API_URL={server.spacex_url}, "
        f"CELESTRAK_URL={server.url}); Ctrl-C stops",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server._httpd.serve_forever()
