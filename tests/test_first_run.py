"""The first five minutes: `make demo` on bundled sample data, and a clear failure when the API
cannot be reached, with nothing written."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli
from starlink42k.replay import ReplayServer

REPO = Path(__file__).resolve().parents[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.pipeline  # whole runs of its own
def test_make_demo_end_to_end(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    try:
        demo = subprocess.run(["make", "-C", str(REPO), "demo"], env=env, capture_output=True, text=True, timeout=900)
        assert demo.returncode == 0, demo.stderr[-3000:]
    finally:
        subprocess.run(["make", "-C", str(REPO), "stop"], env=env, capture_output=True, timeout=120)

    out = demo.stdout
    assert "SAMPLE DATA" in out and "satellites in orbit" in out and "When 42,000 are in orbit" in out
    reports = tmp_path / "demo/lake/reports/starlink"
    (ds_dir,) = reports.iterdir()
    assert f"chart:  file://{ds_dir / 'chart.png'}" in out and f"report: file://{ds_dir / 'report.md'}" in out
    answer = json.loads((ds_dir / "answer.json").read_bytes())
    assert answer["sample_data"] is True and "not live data" in answer["notice"]
    assert answer["source"] == "celestrak_satcat" and len(answer["sources"]) == 2
    assert answer["satellites_in_orbit"] > 5000 and all(s["reaches_target"] for s in answer["scenarios"])
    assert "SAMPLE DATA" in (ds_dir / "report.md").read_text()
    assert (ds_dir / "chart.png").read_bytes()[:4] == b"\x89PNG"
    # progress on stderr: every step says what it did, how much, how long
    for line in (
        "launches: page 1/1",
        "starlink: page 8/8",
        "satcat: 12037 records",
        "raw → typed CSV",
        "CSV → warehouse raw.satcat",
        "dbt build",
        "pipeline finished in",
    ):
        assert line in demo.stderr


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        (f"http://127.0.0.1:{closed_port()}/v4", "connection refused"),
        ("http://api.spacex.invalid/v4", "DNS lookup failed"),
    ],
    ids=["refused", "dns"],  # the same on every xdist worker (the closed port is not)
)
def test_unreachable_api_fails_clearly_and_writes_nothing(url, cause, monkeypatch, pipeline_env, tmp_path, capsys):
    monkeypatch.setenv("SPACEX_API_URL", url)
    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "2")
    assert cli.main(["run", "--ds", "2024-01-31"]) == 1

    err = capsys.readouterr().err
    message = err[err.index("\nerror: ") :]
    assert f"cannot reach {url}/launches/query" in message and cause in message and "after 2 attempts" in message
    assert "make demo" in message and "SPACEX_API_URL" in message
    assert err.count("\nerror: ") == 1  # one message, not a traceback
    assert "Traceback" not in err
    lake = tmp_path / "lake"
    assert not lake.exists() or not any(p.is_file() for p in lake.rglob("*"))
    with psycopg.connect(pipeline_env["WAREHOUSE_URL"]) as conn:
        assert conn.execute(
            "select count(*) from information_schema.schemata where schema_name = 'raw'"
        ).fetchone() == (0,)


def test_one_unreachable_source_stops_the_run_before_any_write(monkeypatch, pipeline_env, api_docs, tmp_path, capsys):
    monkeypatch.setenv("DATASETS", "launches,starlink,satcat")
    monkeypatch.setenv("CELESTRAK_URL", "http://celestrak.invalid")
    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "1")
    with ReplayServer(spacex=api_docs) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        assert cli.main(["run", "--ds", "2024-01-31"]) == 1
    assert "cannot reach http://celestrak.invalid/satcat/records.php" in capsys.readouterr().err
    lake = tmp_path / "lake"
    assert not lake.exists() or not any(p.is_file() for p in lake.rglob("*"))


def test_a_refusing_proxy_is_named(monkeypatch, pipeline_env, capsys):
    monkeypatch.setenv("SPACEX_API_URL", "http://api.spacexdata.example/v4")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "1")
    assert cli.main(["extract", "launches", "--ds", "2024-01-31"]) == 1
    assert "the proxy refused the connection" in capsys.readouterr().err


def test_quiet_and_verbose(pipeline_env, capsys):
    assert cli.main(["--quiet", "extract", "launches", "--ds", "2024-01-31"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["-v", "extract", "launches", "--ds", "2024-01-31"]) == 0
    assert "DEBUG: launches: fetching from spacex" in capsys.readouterr().err


def _make(*args: str) -> list[str]:
    out = subprocess.run(
        ["make", "-C", str(REPO), "--no-print-directory", *args], capture_output=True, text=True, check=True
    ).stdout
    return [re.sub(r"\x1b\[[0-9;]*m", "", line).split()[0] for line in out.strip().splitlines()]


def test_make_help_lists_the_main_entry_points_in_one_screen_and_help_all_every_one():
    main, every = _make("help"), _make("help-all")
    assert len(main) <= 20, main
    for target in ("run", "demo", "test", "test-all", "stop", "bench", "cluster-up", "cluster-down", "e2e"):
        assert target in main, target
    # Every target a makefile documents (`## ` or `### `) is listed by help-all, once.
    documented = [
        m.group(1)
        for path in (REPO / "Makefile", *REPO.glob("*/*.mk"))
        for m in re.finditer(r"^([a-zA-Z0-9_-]+):[^\n]*##+ ", path.read_text(), re.M)
    ]
    assert sorted(every) == sorted(documented) and set(main) <= set(every)


def test_the_bundled_sample_data_is_what_its_generator_makes():
    """The demo's files are reproducible from the committed generator, byte for byte."""
    generator = REPO / "scripts/generate_sample_data.py"
    check = subprocess.run([sys.executable, str(generator), "--check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
