"""Sources: the SpaceX API and CelesTrak failing the way public APIs do.

One stack per module: a good ``run`` of ds 2024-01-31 first (``good_run``), then each case runs the
pipeline again with a fault scripted into the replay. A fault the client can ride out (a 429, a burst
of 5xx, a connection reset) must end in the same data as a clean fetch; one it cannot must exit 1
with one message naming the source and the problem, with the lake and the warehouse exactly as the
good run left them (every file's sha256, every table's rows) and nothing left over. Then a clean rerun
of the step fetches byte for byte what the good run fetched. The last case reruns the whole pipeline
and compares the answer with the good run's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from fault_checks import GoodRun, assert_extract_reruns, assert_refused, error_message, raw_data_files
from fault_stack import CLI, Stack

from starlink42k.replay import paginate
from support.replay import Fault

STARLINK = "/v4/starlink"
SATCAT = "/satcat"
PASS = Fault()  # the normal answer (to reach page 2 before the fault)


def page(docs: list[dict], number: int, limit: int = 100) -> dict:
    return paginate(docs, {"options": {"page": number, "limit": limit, "sort": {"_id": "asc"}}})


def query_times(stack: Stack, prefix: str) -> list[float]:
    return [r["at"] for r in stack.replay.requests if r["path"].startswith(prefix)]


def assert_recovered(stack: Stack, result: subprocess.CompletedProcess, dataset: str, before: dict) -> None:
    """The fault was ridden out: the step succeeded with the very data a clean fetch gives."""
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    after = stack.snapshot()
    assert after["warehouse"] == before["warehouse"]
    files = raw_data_files(stack)
    assert files == {k: v for k, v in before["lake"].items() if k in files}
    assert stack.leftovers() == []


# --- rate limits, server errors, hangs, resets ------------------------------------------------------


@pytest.mark.fault("Sources", "429 with Retry-After in seconds: waits that long, then fetches the same data")
def test_429_retry_after_seconds(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, PASS, Fault(429, {"Retry-After": "1"}, b'{"error":"Too Many Requests"}'))
    result = ran.run("extract", "starlink", "--ds", good_run.ds)
    assert_recovered(ran, result, "starlink", before)
    times = query_times(ran, STARLINK)
    assert times[2] - times[1] >= 0.95  # page 2 asked again only after Retry-After
    assert "HTTP 429; retrying in 1.0s" in result.stderr


@pytest.mark.fault("Sources", "429 with Retry-After as an HTTP date: waits until then")
def test_429_retry_after_http_date(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    # Far enough ahead that the CLI starts well before it (a busy machine takes seconds).
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    ran.replay.add_fault(SATCAT, Fault(429, {"Retry-After": format_datetime(until, usegmt=True)}, b"rate limited"))
    result = ran.run("extract", "satcat", "--ds", good_run.ds)
    assert_recovered(ran, result, "satcat", before)
    first, second = (r["wall"] for r in ran.replay.requests if r["path"].startswith(SATCAT))
    assert first < until.timestamp() - 1 and second >= until.timestamp() - 0.05


@pytest.mark.fault("Sources", "429 past the last attempt: refused, ds kept")
def test_429_past_the_last_attempt(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, *[Fault(429, {"Retry-After": "0"}, b"slow down")] * 3)
    result = ran.run("run", "--ds", good_run.ds, HTTP_MAX_ATTEMPTS="3")
    assert_refused(ran, result, before, "SpaceX API starlink page 1", "HTTP 429", "after 3 attempts")
    assert_extract_reruns(ran, "starlink", good_run.ds, before)


@pytest.mark.fault("Sources", "a burst of 5xx (502, 503, 500, 504) shorter than the retries: same data")
def test_burst_of_5xx_ridden_out(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, PASS, PASS, *[Fault(s, body=b"<h1>bad gateway</h1>") for s in (502, 503, 500, 504)])
    result = ran.run("extract", "starlink", "--ds", good_run.ds, HTTP_MAX_ATTEMPTS="5")
    assert_recovered(ran, result, "starlink", before)
    assert result.stderr.count("http.retry") + result.stderr.count("retrying in") >= 4


@pytest.mark.fault("Sources", "a burst of 5xx longer than the retries: refused, ds kept")
def test_burst_of_5xx_past_the_retries(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(SATCAT, *[Fault(503, body=b"Service Unavailable")] * 4)
    result = ran.run("run", "--ds", good_run.ds, HTTP_MAX_ATTEMPTS="4")
    assert_refused(ran, result, before, "CelesTrak SATCAT", "HTTP 503", "after 4 attempts")
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


@pytest.mark.fault("Sources", "a hang past HTTP_TIMEOUT on every attempt: refused as timed out, ds kept")
def test_hang_past_the_timeout(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, PASS, *[Fault(delay=2.5)] * 2)
    started = time.monotonic()
    result = ran.run("run", "--ds", good_run.ds, HTTP_TIMEOUT="1", HTTP_MAX_ATTEMPTS="2")
    assert time.monotonic() - started < 30
    assert_refused(ran, result, before, "starlink page 2", "timed out", "after 2 attempts")
    assert_extract_reruns(ran, "starlink", good_run.ds, before)


@pytest.mark.fault("Sources", "a connection reset mid-body: the request is retried, same data")
def test_connection_reset_mid_body_retried(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, PASS, Fault(cut_after=5000))
    result = ran.run("extract", "starlink", "--ds", good_run.ds)
    assert_recovered(ran, result, "starlink", before)
    assert "body was cut short" in result.stderr


@pytest.mark.fault("Sources", "a connection reset mid-body on every attempt: refused, ds kept")
def test_connection_reset_mid_body_every_time(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(SATCAT, *[Fault(cut_after=1000)] * 2)
    result = ran.run("run", "--ds", good_run.ds, HTTP_MAX_ATTEMPTS="2")
    assert_refused(ran, result, before, "CelesTrak SATCAT", "cut short", "after 2 attempts")
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


@pytest.mark.parametrize(
    "body_only",
    [
        pytest.param(
            False,
            marks=pytest.mark.fault(
                "Sources",
                "a server sending one byte a second (from its status line): cut at HTTP_DEADLINE, refused, ds kept",
            ),
            id="headers",
        ),
        pytest.param(
            True,
            marks=pytest.mark.fault(
                "Sources", "a server sending its body one byte a second: cut at HTTP_DEADLINE, refused, ds kept"
            ),
            id="body",
        ),
    ],
)
def test_one_byte_a_second_cut_at_the_deadline(ran: Stack, good_run: GoodRun, body_only: bool) -> None:
    """HTTP_TIMEOUT (5 s here) bounds each read, and a byte comes every second: only the request's
    total deadline ends it, retries included."""
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, PASS, *[Fault(trickle=1.0, trickle_body_only=body_only)] * 3)
    started = time.monotonic()
    result = ran.run("run", "--ds", good_run.ds, HTTP_DEADLINE="4", HTTP_MAX_ATTEMPTS="3")
    seconds = time.monotonic() - started
    assert_refused(ran, result, before, "starlink page 2", "not answered in full within 4s (HTTP_DEADLINE")
    assert len(query_times(ran, STARLINK)) == 2  # no attempt after the deadline
    assert seconds < 30, f"{seconds:.0f}s"
    assert_extract_reruns(ran, "starlink", good_run.ds, before)


# --- bodies that are not what they claim ---------------------------------------------------------------


@pytest.mark.fault("Sources", "truncated JSON (a page cut short, framed as complete): refused, ds kept")
def test_truncated_json(ran: Stack, good_run: GoodRun, stack_spacex_docs: dict) -> None:
    before = ran.snapshot()
    body = json.dumps(page(stack_spacex_docs["starlink"], 3)).encode()
    ran.replay.add_fault(STARLINK, PASS, PASS, Fault(body=body[: len(body) // 2]))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "starlink page 3", "did not return valid JSON")
    assert_extract_reruns(ran, "starlink", good_run.ds, before)


@pytest.mark.fault("Sources", "valid JSON of the wrong shape (SpaceX page and CelesTrak list): refused, ds kept")
def test_valid_json_of_the_wrong_shape(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    ran.replay.add_fault(STARLINK, Fault(body=b'{"data": [], "count": 0}'))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "starlink page 1", "no 'docs' field")
    ran.replay.add_fault(SATCAT, Fault(body=b'{"NORAD_CAT_ID": 44235}'))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "CelesTrak SATCAT", "expected a JSON array")
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


@pytest.mark.fault("Sources", "JSON nested 100,000 deep (a parser bomb), SpaceX and CelesTrak: refused, ds kept")
def test_json_nested_too_deep(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    bomb = b"[" * 100_000 + b"]" * 100_000
    ran.replay.add_fault(STARLINK, Fault(body=bomb))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "starlink page 1", "did not return valid JSON")
    ran.replay.add_fault(SATCAT, Fault(body=bomb))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "CelesTrak SATCAT", "nests deeper")
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


@pytest.mark.fault("Sources", "a redirect loop: refused, ds kept")
def test_redirect_loop(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    loop = Fault(302, {"Location": "/satcat/records.php?NAME=STARLINK&FORMAT=JSON"}, b"")
    ran.replay.add_fault(SATCAT, *[loop] * 40)
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "CelesTrak SATCAT", "TooManyRedirects")
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


@pytest.mark.fault("Sources", "totalDocs changing between pages: refused, ds kept")
def test_total_docs_changing_between_pages(ran: Stack, good_run: GoodRun, stack_spacex_docs: dict) -> None:
    before = ran.snapshot()
    second = page(stack_spacex_docs["starlink"], 2)
    second["totalDocs"] += 1
    ran.replay.add_fault(STARLINK, PASS, Fault(body=json.dumps(second).encode()))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "starlink page 2", "totalDocs changed")
    assert_extract_reruns(ran, "starlink", good_run.ds, before)


@pytest.mark.fault("Sources", "a duplicate id across pages: refused, ds kept")
def test_duplicate_id_across_pages(ran: Stack, good_run: GoodRun, stack_spacex_docs: dict) -> None:
    before = ran.snapshot()
    first, second = page(stack_spacex_docs["starlink"], 1), page(stack_spacex_docs["starlink"], 2)
    second["docs"][0] = first["docs"][-1]  # the page boundary moved under the cursor
    ran.replay.add_fault(STARLINK, PASS, Fault(body=json.dumps(second).encode()))
    result = ran.run("run", "--ds", good_run.ds)
    assert_refused(ran, result, before, "SpaceX API starlink", "came twice across pages")
    assert_extract_reruns(ran, "starlink", good_run.ds, before)


@pytest.mark.fault("Sources", "CelesTrak's HTML rate-limit page instead of data (JSON and CSV): refused, ds kept")
def test_celestrak_html_page(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    html = (
        b"<!DOCTYPE html>\n<html><head><title>CelesTrak: Rate Limit Exceeded</title></head>"
        b"<body><p>You have exceeded the rate limit. Please try again later.</p></body></html>"
    )
    for fmt in ("json", "csv"):
        ran.replay.add_fault(SATCAT, Fault(body=html, content_type="text/html; charset=utf-8"))
        result = ran.run("run", "--ds", good_run.ds, CELESTRAK_FORMAT=fmt)
        message = assert_refused(ran, result, before, "CelesTrak SATCAT", "HTML page", "Rate Limit Exceeded")
        assert len(message) < 600
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


# --- too much, and nothing -------------------------------------------------------------------------------


@pytest.mark.fault("Sources", "an empty result (0 satellites) for today: refused, yesterday's answer kept")
def test_empty_result_keeps_yesterday(ran: Stack, good_run: GoodRun) -> None:
    before = ran.snapshot()
    empty = json.dumps(page([], 1)).encode()
    ran.replay.add_fault(STARLINK, Fault(body=empty))
    result = ran.run("run", "--ds", "2024-02-01")  # the day after the good run
    assert_refused(ran, result, before, "returned no starlink documents", "refusing")
    ran.replay.add_fault(SATCAT, Fault(body=b"No SATCAT records found", content_type="text/plain"))
    result = ran.run("run", "--ds", good_run.ds)  # and the same day again
    assert_refused(ran, result, before, "no satcat documents", "refusing")
    assert ran.answer_facts(good_run.ds) == good_run.answer_facts
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


# Started from a fresh, small interpreter: Linux counts a child's RSS before its exec in its
# ru_maxrss, so a CLI forked straight from pytest (hundreds of MB by then) would report pytest's size.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)  # Linux: kilobytes
"""


def run_measured(stack: Stack, tmp_path: Path, *args: str, **env: str) -> tuple[int, str, int]:
    """Run the CLI; its exit code, stderr and peak resident memory (bytes), from wait4's rusage
    of that one process."""
    err = tmp_path / "stderr"
    with err.open("w") as errf:
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, CLI, *args], env={**stack.env, **env}, stdout=subprocess.PIPE,
            stderr=errf, text=True, check=True, timeout=600,
        ).stdout  # fmt: skip
    code, peak = (int(n) for n in out.split())
    return code, err.read_text(), peak


@pytest.mark.fault("Sources", "a 200 MB response: refused at HTTP_MAX_RESPONSE_MB (50), peak memory bounded")
def test_200_mb_response_refused_in_bounded_memory(ran: Stack, good_run: GoodRun, tmp_path: Path) -> None:
    before = ran.snapshot()
    record = json.dumps({"OBJECT_NAME": "STARLINK-1", "NORAD_CAT_ID": 44235, "OBJECT_TYPE": "PAY"}) + ","
    ran.replay.add_fault(SATCAT, Fault(body=record.encode(), stream_bytes=200 * 2**20))
    started = time.monotonic()
    code, stderr, peak = run_measured(ran, tmp_path, "run", "--ds", good_run.ds, HTTP_MAX_RESPONSE_MB="50")
    seconds = time.monotonic() - started
    result = subprocess.CompletedProcess([], code, "", stderr)
    assert_refused(ran, result, before, "CelesTrak SATCAT", "more than 50 MB", "HTTP_MAX_RESPONSE_MB")
    print(f"200 MB response: refused in {seconds:.1f}s, peak RSS {peak / 2**20:.0f} MB")
    # The cap (50 MB) plus the interpreter and its libraries; far below the 200 MB body.
    assert peak < 180 * 2**20, f"peak RSS {peak / 2**20:.0f} MB"
    assert_extract_reruns(ran, "satcat", good_run.ds, before)


@pytest.mark.fault(
    "Sources",
    "a SATCAT past SATCAT_ERROR_AFTER_DAYS: `run` stops before dbt as the DAG's gate does, naming the source, its "
    "as-of date and the threshold; `--allow-stale` answers, marked stale",
)
def test_stale_satcat_stops_the_run_unless_allowed(ran: Stack, good_run: GoodRun) -> None:
    ds = good_run.ds
    before = ran.snapshot()
    result = ran.run("run", "--ds", ds, SATCAT_ERROR_AFTER_DAYS="45")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    message = error_message(result)
    assert re.fullmatch(
        r"freshness gate: CelesTrak SATCAT \(celestrak\.satcat\) is too old: its newest record is from "
        rf"[0-9-]{{10}}, [0-9]+ days before {ds} \(threshold 45 days\)\. ds {ds} is loaded and published; nothing "
        r"was built from it\. `starlink42k run --allow-stale` \(`make run ALLOW_STALE=1`\) answers anyway, "
        r"marked stale",
        message,
    ), message
    # Stopped before dbt: its tables and the answer are the good run's; raw holds the same snapshots again.
    after = ran.snapshot()
    built = lambda snap: {k: v for k, v in snap["warehouse"].items() if k.startswith(("intermediate.", "marts."))}  # noqa: E731
    assert built(after) == built(before)
    assert ran.answer_facts(ds) == good_run.answer_facts
    assert raw_data_files(ran) == {k: v for k, v in before["lake"].items() if k in raw_data_files(ran)}
    assert ran.leftovers() == []

    allowed = ran.run("run", "--ds", ds, "--allow-stale", SATCAT_ERROR_AFTER_DAYS="45")
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    satcat = next(s for s in json.loads(ran.answer(ds))["sources"] if s["name"] == "celestrak_satcat")
    assert (satcat["freshness"], satcat["stale"], satcat["error_after_days"]) == ("error", True, 45)


@pytest.mark.fault("Sources", "after every source fault, a clean rerun of the whole pipeline: identical answer")
def test_clean_rerun_after_the_faults(ran: Stack, good_run: GoodRun) -> None:
    result = ran.run("run", "--ds", good_run.ds)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ran.answer_facts(good_run.ds) == good_run.answer_facts
    assert ran.snapshot()["warehouse"].keys() == good_run.snapshot["warehouse"].keys()
    assert ran.leftovers() == []
