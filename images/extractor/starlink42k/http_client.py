"""HTTP with timeouts on every request and retries where a retry can help.

Retried: connection errors (DNS, refused, reset, proxy), timeouts, 429 (honouring Retry-After) and
5xx, with exponential backoff and full jitter. Not retried: other 4xx, which a retry cannot fix.
When every attempt fails to reach the server, ``SourceUnreachable`` names the URL and the cause.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from . import __version__
from .errors import SourceResponseError, SourceUnreachable
from .log import event, get_logger

log = get_logger("http")
USER_AGENT = f"starlink42k/{__version__} (+https://github.com/r-spacex/SpaceX-API)"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float], float] = field(default=lambda cap: random.uniform(0, cap))  # noqa: S311

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``; Retry-After wins over the computed backoff."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        cap = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return self.jitter(cap)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def describe_connection_error(exc: BaseException) -> str:
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
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (a proxy that intercepts TLS needs its CA in REQUESTS_CA_BUNDLE)"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    return f"connection failed ({type(exc).__name__})"


class HttpClient:
    """A requests session with the retry policy; one per source."""

    def __init__(self, policy: RetryPolicy | None = None, session: requests.Session | None = None):
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)

    def request(
        self, method: str, url: str, *, what: str, json_body: Any = None, params: dict[str, str] | None = None
    ) -> requests.Response:
        """Send with retries; ``what`` names the request in errors (e.g. "starlink page 3")."""
        policy = self.policy
        last_cause = ""
        for attempt in range(1, policy.max_attempts + 1):
            retry_after = None
            try:
                response = self.session.request(
                    method, url, json=json_body, params=params, timeout=policy.timeout_seconds
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                last_cause = describe_connection_error(exc)
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUS:
                    raise SourceResponseError(
                        f"{what}: {method} {url} answered HTTP {response.status_code} "
                        f"{response.reason}: {response.text[:300]!r} (not retried: a client error)"
                    )
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                last_cause = f"HTTP {response.status_code} {response.reason}"
                response.close()
            if attempt == policy.max_attempts:
                break
            delay = policy.delay(attempt, retry_after)
            event(
                log,
                "http.retry",
                f"{what}: {last_cause}; retrying in {delay:.1f}s",
                level=logging.WARNING,
                attempt=attempt,
                max_attempts=policy.max_attempts,
                url=url,
                delay_s=round(delay, 2),
            )
            policy.sleep(delay)
        if last_cause.startswith("HTTP "):
            raise SourceResponseError(
                f"{what}: {method} {url} still answered {last_cause} after {policy.max_attempts} "
                "attempts; the source is failing, try again later"
            )
        raise SourceUnreachable(
            f"cannot reach {url} ({what}): {last_cause}, after {policy.max_attempts} attempts.\n"
            "  Check the network or proxy settings (HTTPS_PROXY, REQUESTS_CA_BUNDLE), point the\n"
            "  pipeline at a reachable copy of the API with SPACEX_API_URL / CELESTRAK_URL,\n"
            "  or run `make demo` to see the whole pipeline on bundled sample data."
        )

    def request_json(
        self, method: str, url: str, *, what: str, json_body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        response = self.request(method, url, what=what, json_body=json_body, params=params)
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            snippet = response.text[:120]
            raise SourceResponseError(
                f"{what}: {method} {url} did not return valid JSON ({exc}); body starts {snippet!r}"
            ) from None
