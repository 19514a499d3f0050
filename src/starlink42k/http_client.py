"""HTTP with timeouts on every request and retries where a retry can help.

Retries are urllib3's ``Retry``, mounted on the requests session: it decides what is retried
(connection errors, timeouts, 429 and 5xx, for every method: the SpaceX API's queries are POSTs)
and parses ``Retry-After`` (seconds or an HTTP date). The project's policy on top: exponential
backoff with full jitter (AWS's "full jitter": uniform between 0 and the exponential cap, so that
many clients do not retry in step), ``Retry-After`` capped at five minutes, one log line per retry
naming the request, and an error after the last attempt that says what failed and what to do.
Not retried: other 4xx, which a retry cannot fix.

Bodies are read in blocks and refused past ``max_response_bytes`` (HTTP_MAX_RESPONSE_MB): a runaway
answer costs at most that much memory (or disk, for a body written to a file: ``into``), never the
whole body. A body cut short (the connection reset,
or stalled past the timeout, after the headers) is below urllib3's retries, so it is retried here,
the whole request again, with the same backoff and the same number of attempts.

HTTP_TIMEOUT bounds each read, so a server that sends a byte now and then is never timed out by it.
Each request therefore has a total deadline, retries included (``deadline_seconds``,
HTTP_DEADLINE): when it passes, the socket in use is shut down, which ends any read at once, and no
further attempt starts (``Deadline``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from . import __version__
from .errors import ResponseTooLarge, SourceResponseError, SourceUnreachable
from .log import event, get_logger

log = get_logger("http")
USER_AGENT = f"starlink42k/{__version__} (+https://github.com/r-spacex/SpaceX-API)"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
READ_BLOCK = 2**16
# What breaks a body after its headers arrived (requests wraps urllib3's ProtocolError and
# ReadTimeoutError in these while it streams).
BODY_ERRORS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ContentDecodingError,
)
MAX_RETRY_AFTER_SECONDS = 300
# The request being sent, for the retry log lines (urllib3 retries below requests, unaware of it).
_WHAT: contextvars.ContextVar[str] = contextvars.ContextVar("what", default="request")


class Deadline:
    """A request's total deadline. When it passes, the socket of the connection the request is using
    is shut down, which ends a read however slowly the server sends, and no retry starts."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self._cut = False
        self._conn: HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._pass)
        self._timer.daemon = True
        self._timer.start()

    @property
    def cut(self) -> bool:
        """The deadline shut the socket down (what was read since may be a truncated body)."""
        return self._cut

    @property
    def passed(self) -> bool:
        return self._cut or time.monotonic() >= self.ends

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def using(self, conn: HTTPConnection) -> None:
        """The connection the request sends on now (a retry may take another)."""
        with self._lock:
            self._conn = conn
            if self.passed:
                _shut(conn)

    def _pass(self) -> None:
        with self._lock:
            self._cut = True
            if self._conn is not None:
                _shut(self._conn)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(conn: HTTPConnection) -> None:
    # A response that closes its connection (HTTP/1.0, `Connection: close`) is read from a socket the
    # connection has already let go of (conn.sock is None): the one it connected is kept for this.
    sock = conn.sock or getattr(conn, "_deadline_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# The deadline of the request being sent, which the connections below report to.
_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("deadline", default=None)


def _watch(conn: HTTPConnection) -> None:
    deadline = _DEADLINE.get()
    if deadline is not None:
        deadline.using(conn)


class _Watched:
    """Mixed into urllib3's connections: each tells the request's deadline which socket to shut down."""

    def connect(self) -> None:
        _watch(self)  # type: ignore[arg-type]
        super().connect()  # type: ignore[misc]
        self._deadline_sock = self.sock  # type: ignore[attr-defined]
        _watch(self)  # type: ignore[arg-type]  # connected after the deadline passed: shut at once

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter, with connections a request's deadline can cut (direct and through a proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 30.0
    deadline_seconds: float = 600.0  # per request, from its first attempt to the last byte of its body
    max_response_bytes: int = 256 * 2**20  # HTTP_MAX_RESPONSE_MB's default
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float], float] = field(default=lambda cap: random.uniform(0, cap))  # noqa: S311

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``; Retry-After wins over the computed backoff."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        cap = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return self.jitter(cap)

    def retry(self) -> PolicyRetry:
        return PolicyRetry(
            policy=self,
            total=self.max_attempts - 1,
            allowed_methods=None,  # POST queries are reads: retry every method
            status_forcelist=RETRY_STATUS,
            raise_on_status=False,  # the last answer comes back; HttpClient words the error
            retry_after_max=MAX_RETRY_AFTER_SECONDS,
        )


class PolicyRetry(Retry):
    """urllib3's Retry, sleeping as the policy says: full jitter, Retry-After first, logged."""

    def __init__(self, *args: Any, policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy or RetryPolicy()

    def new(self, **kw: Any) -> PolicyRetry:
        retry = super().new(**kw)
        retry.policy = self.policy
        return retry

    def get_backoff_time(self) -> float:
        return self.policy.delay(len(self.history), None)

    def is_exhausted(self) -> bool:
        deadline = _DEADLINE.get()
        return super().is_exhausted() or (deadline is not None and deadline.passed)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        retry_after = None
        if response is not None:
            with contextlib.suppress(InvalidHeader):  # unreadable: back off as if there were none
                retry_after = self.get_retry_after(response)
        delay = self.policy.delay(len(self.history), retry_after)
        deadline = _DEADLINE.get()
        if deadline is not None:  # never wait past it: the next attempt would be cut at once
            delay = min(delay, deadline.remaining())
        last = self.history[-1]
        cause = f"HTTP {last.status}" if last.status else describe_connection_error(last.error)
        event(
            log,
            "http.retry",
            f"{_WHAT.get()}: {cause}; retrying in {delay:.1f}s",
            level=logging.WARNING,
            attempt=len(self.history),
            max_attempts=self.policy.max_attempts,
            url=last.url,
            delay_s=round(delay, 2),
        )
        self.policy.sleep(delay)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3); None if neither."""
    if not value:
        return None
    try:
        return Retry(retry_after_max=MAX_RETRY_AFTER_SECONDS).parse_retry_after(value)
    except InvalidHeader:
        return None


def describe_connection_error(exc: BaseException | None) -> str:
    """A short human cause for a failure to reach a server, from the exception chain."""
    chain, cur = [], exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " ".join(f"{type(e).__name__}: {e}" for e in chain)
    if isinstance(exc, requests.exceptions.ProxyError) or "ProxyError" in text:
        return "the proxy refused the connection"
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "NameResolutionError" in text
        or "Name or service not known" in text
        or "Temporary failure in name resolution" in text
    ):
        return "DNS lookup failed (no such host, or no network)"
    if "Connection refused" in text or any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if isinstance(exc, requests.exceptions.SSLError) or "SSLError" in text:
        return "TLS handshake failed (a proxy that intercepts TLS needs its CA in REQUESTS_CA_BUNDLE)"
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text:
        return "timed out"
    return f"connection failed ({type(exc).__name__})"


class HttpClient:
    """A requests session with the retry policy mounted; one per source."""

    def __init__(self, policy: RetryPolicy | None = None, session: requests.Session | None = None):
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        adapter = _Adapter(max_retries=self.policy.retry())
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        into: IO[bytes] | None = None,
    ) -> requests.Response:
        """Send with retries; ``what`` names the request in logs and errors (e.g. "starlink page 3").
        The response's body is read (at most ``max_response_bytes``) before it is returned; with
        ``into``, a successful response's body is written there instead of into memory (an
        attempt cut short is rewritten from the start)."""
        attempts = self.policy.max_attempts
        deadline = Deadline(self.policy.deadline_seconds)
        token = _DEADLINE.set(deadline)
        try:
            for attempt in range(1, attempts + 1):
                response = self._send(method, url, what=what, json_body=json_body, params=params)
                try:
                    sink = into if into is not None and response.status_code < 400 else None
                    if sink is not None:
                        sink.seek(0)
                        sink.truncate()
                    response._content = self._read_body(response, url, what, sink)
                    if deadline.cut:  # a body without a length ends as a clean EOF when its socket is cut
                        raise self._past_deadline(method, url, what)
                except BODY_ERRORS as exc:
                    if deadline.passed:
                        raise self._past_deadline(method, url, what) from None
                    cause = f"the body was cut short ({describe_connection_error(exc)})"
                    if attempt == attempts:
                        raise SourceUnreachable(
                            f"{what}: {method} {url}: {cause}, after {attempts} attempts; "
                            "the connection to the source is unreliable, try again later"
                        ) from None
                    delay = min(self.policy.delay(attempt, None), deadline.remaining())
                    event(
                        log,
                        "http.retry",
                        f"{what}: {cause}; retrying in {delay:.1f}s",
                        level=logging.WARNING,
                        attempt=attempt,
                        max_attempts=attempts,
                        url=url,
                        delay_s=round(delay, 2),
                    )
                    self.policy.sleep(delay)
                    continue
                finally:
                    response.close()
                return self._checked(response, method, url, what)
        finally:
            deadline.cancel()
            _DEADLINE.reset(token)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _past_deadline(self, method: str, url: str, what: str) -> SourceUnreachable:
        return SourceUnreachable(
            f"{what}: {method} {url} was not answered in full within {self.policy.deadline_seconds:g}s "
            "(HTTP_DEADLINE, retries included): the source sends too slowly or stalls; try again later, "
            "or raise HTTP_DEADLINE"
        )

    def _send(
        self, method: str, url: str, *, what: str, json_body: Any, params: dict[str, str] | None
    ) -> requests.Response:
        token = _WHAT.set(what)
        try:
            return self.session.request(
                method, url, json=json_body, params=params, timeout=self.policy.timeout_seconds, stream=True
            )
        except (requests.exceptions.TooManyRedirects, requests.exceptions.InvalidURL) as exc:
            raise SourceResponseError(f"{what}: {method} {url}: {type(exc).__name__}: {exc}") from None
        except requests.exceptions.RequestException as exc:  # connection errors, timeouts, the rest
            deadline = _DEADLINE.get()
            if deadline is not None and deadline.passed:
                raise self._past_deadline(method, url, what) from None
            raise SourceUnreachable(
                f"cannot reach {url} ({what}): {describe_connection_error(exc)}, "
                f"after {self.policy.max_attempts} attempts.\n"
                "  Check the network or proxy settings (HTTPS_PROXY, REQUESTS_CA_BUNDLE), point the\n"
                "  pipeline at a reachable copy of the API with SPACEX_API_URL / CELESTRAK_URL,\n"
                "  or run `make demo` to see the whole pipeline on bundled sample data."
            ) from None
        finally:
            _WHAT.reset(token)

    def _read_body(self, response: requests.Response, url: str, what: str, sink: IO[bytes] | None = None) -> bytes:
        """The body, in blocks (written to ``sink`` if given: then b"" is returned); refused as soon as
        it passes the cap (announced or not)."""
        cap = self.policy.max_response_bytes
        mib = f"{cap / 2**20:g} MB"
        refused = (
            f"{what}: {url} sent more than {mib}, the most HTTP_MAX_RESPONSE_MB allows; refused "
            "without reading the rest. If the source really grew, raise HTTP_MAX_RESPONSE_MB "
            "(or lower SPACEX_PAGE_SIZE)"
        )
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > cap:
            raise ResponseTooLarge(f"{refused}; it announced {int(announced):,} bytes")
        body, size = bytearray(), 0
        for block in response.iter_content(READ_BLOCK):
            size += len(block)
            if size > cap:
                raise ResponseTooLarge(refused)
            if sink is None:
                body += block
            else:
                sink.write(block)
        return bytes(body)

    def _checked(self, response: requests.Response, method: str, url: str, what: str) -> requests.Response:
        if response.status_code < 400:
            return response
        attempts = self.policy.max_attempts
        answer = f"HTTP {response.status_code} {response.reason}"
        if response.status_code in RETRY_STATUS:
            raise SourceResponseError(
                f"{what}: {method} {url} still answered {answer} after {attempts} attempts; "
                "the source is failing, try again later"
            )
        raise SourceResponseError(
            f"{what}: {method} {url} answered {answer}: {response.text[:300]!r} (not retried: a client error)"
        )

    def request_json(
        self, method: str, url: str, *, what: str, json_body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        response = self.request(method, url, what=what, json_body=json_body, params=params)
        try:
            return response.json()
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than any document
            snippet = response.text[:120]
            raise SourceResponseError(
                f"{what}: {method} {url} did not return valid JSON ({exc}); body starts {snippet!r}"
            ) from None
