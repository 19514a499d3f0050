"""The SpaceX API client against a real HTTP server on loopback that replays the API's shape."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from starlink42k.errors import SourceResponseError, SourceUnreachable
from starlink42k.http_client import HttpClient, RetryPolicy, parse_retry_after
from starlink42k.sources import spacex
from support.replay import Fault, ScriptedReplay


class Sleeps(list):
    """Records the delays the client asks for instead of waiting them out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(sleeps: Sleeps, attempts: int = 4, timeout: float = 5.0) -> HttpClient:
    return HttpClient(
        RetryPolicy(
            max_attempts=attempts,
            backoff_seconds=0.5,
            timeout_seconds=timeout,
            sleep=sleeps,
            jitter=lambda cap: cap,
        )
    )


def query_bodies(server: ScriptedReplay) -> list[dict]:
    return [json.loads(r["body"]) for r in server.requests if r["method"] == "POST"]


def test_pages_through_every_page_with_an_explicit_sort(replay, api_docs):
    snap = spacex.fetch(client(Sleeps()), replay.spacex_url, "starlink", page_size=100)

    assert snap.pages == 13 and snap.total_docs == 1234
    assert [d["id"] for d in snap.documents()] == sorted(d["id"] for d in api_docs["starlink"])
    assert snap.records == 1234 and json.loads(snap.read()) == list(snap.documents())  # the body is JSON
    bodies = query_bodies(replay)
    assert [b["options"]["page"] for b in bodies] == list(range(1, 14))
    assert all(b["options"]["sort"] == {"_id": "asc"} and b["options"]["limit"] == 100 for b in bodies)
    assert snap.source_url == f"{replay.spacex_url}/starlink/query"


def test_launches_are_sorted_by_flight_number(replay, api_docs):
    snap = spacex.fetch(client(Sleeps()), replay.spacex_url, "launches", page_size=7)
    assert [d["flight_number"] for d in snap.documents()] == list(range(1, len(api_docs["launches"]) + 1))
    assert snap.pages == 6


def test_429_waits_for_retry_after(replay):
    replay.add_fault("/v4/launches", Fault(429, {"Retry-After": "7"}, b'{"error":"slow down"}'))
    sleeps = Sleeps()
    snap = spacex.fetch(client(sleeps), replay.spacex_url, "launches", page_size=100)
    assert sleeps == [7.0]
    assert snap.records == 41


def test_retry_after_as_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert 28 <= parse_retry_after(format_datetime(when, usegmt=True)) <= 30
    assert parse_retry_after("nonsense") is None


def test_500_then_success_backs_off_exponentially(replay):
    replay.add_fault("/v4/starlink", Fault(500), Fault(502), Fault(503))
    sleeps = Sleeps()
    snap = spacex.fetch(client(sleeps), replay.spacex_url, "starlink", page_size=500)
    assert sleeps == [0.5, 1.0, 2.0]  # jitter pinned to its cap: base * 2^(attempt-1)
    assert snap.records == 1234


def test_backoff_has_full_jitter():
    policy = RetryPolicy(backoff_seconds=1.0, max_backoff_seconds=8.0)
    delays = [policy.delay(5, None) for _ in range(200)]
    assert all(0 <= d <= 8.0 for d in delays) and len(set(delays)) > 100


def test_a_timeout_is_retried(replay):
    replay.add_fault("/v4/launches", Fault(200, delay=1.0))
    sleeps = Sleeps()
    snap = spacex.fetch(client(sleeps, timeout=0.3), replay.spacex_url, "launches", page_size=100)
    assert len(sleeps) == 1 and snap.records == 41


def test_persistent_5xx_fails_after_the_last_attempt(replay):
    replay.add_fault("/v4/starlink", *[Fault(503)] * 4)
    with pytest.raises(SourceResponseError, match=r"starlink page 1.*HTTP 503.*after 4 attempts"):
        spacex.fetch(client(Sleeps()), replay.spacex_url, "starlink", page_size=100)
    assert len(replay.requests) == 4


def test_other_4xx_is_not_retried(replay):
    replay.add_fault("/v4/starlink", Fault(404, body=b'{"error":"Not Found"}'))
    sleeps = Sleeps()
    with pytest.raises(SourceResponseError, match=r"HTTP 404.*not retried"):
        spacex.fetch(client(sleeps), replay.spacex_url, "starlink", page_size=100)
    assert sleeps == [] and len(replay.requests) == 1


def test_malformed_json_names_route_and_page(replay):
    replay.add_fault("/v4/starlink", Fault(200), Fault(200, body=b'{"docs": [{"id": '))
    with pytest.raises(SourceResponseError, match=r"SpaceX API starlink page 2: .*not return valid JSON"):
        spacex.fetch(client(Sleeps()), replay.spacex_url, "starlink", page_size=100)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[]", r"expected a JSON object .* got list"),
        (b'{"totalDocs": 3}', r"has no 'docs' field"),
        (
            b'{"docs": {}, "totalDocs": 1, "page": 1, "totalPages": 1, "hasNextPage": false}',
            r"'docs' should be list",
        ),
        (
            b'{"docs": [1], "totalDocs": 1, "page": 1, "totalPages": 1, "hasNextPage": false}',
            r"document 0 is not an object",
        ),
        (
            b'{"docs": [], "totalDocs": 5, "page": 1, "totalPages": 1, "hasNextPage": false}',
            r"fetched 0 documents but totalDocs is 5",
        ),
        (
            b'{"docs": [], "totalDocs": 0, "page": 3, "totalPages": 1, "hasNextPage": false}',
            r"asked for page 1, the API answered page 3",
        ),
    ],
)
def test_the_wrong_shape_fails_clearly(replay, body, problem):
    replay.add_fault("/v4/launches", Fault(200, body=body))
    with pytest.raises(SourceResponseError, match=problem):
        spacex.fetch(client(Sleeps()), replay.spacex_url, "launches", page_size=100)


def test_unstable_paging_is_detected(replay, api_docs):
    # The source changes between two pages: the second page repeats the first.
    first = json.dumps(
        {"docs": api_docs["launches"][:20], "totalDocs": 41, "page": 2, "totalPages": 3, "hasNextPage": True}
    ).encode()
    replay.add_fault("/v4/launches", Fault(200), Fault(200, body=first))
    with pytest.raises(SourceResponseError, match=r"came twice across pages"):
        spacex.fetch(client(Sleeps()), replay.spacex_url, "launches", page_size=20)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_unreachable():
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{_closed_port()}/v4"
    with pytest.raises(SourceUnreachable) as err:
        spacex.fetch(client(sleeps, attempts=3), url, "launches", page_size=100)
    assert "connection refused" in str(err.value) and url in str(err.value)
    assert "make demo" in str(err.value) and "SPACEX_API_URL" in str(err.value)
    assert len(sleeps) == 2


def test_dns_failure_is_unreachable():
    with pytest.raises(SourceUnreachable, match=r"DNS lookup failed"):
        spacex.fetch(client(Sleeps(), attempts=2), "http://api.spacex.invalid/v4", "launches", 100)
