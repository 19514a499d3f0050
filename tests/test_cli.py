"""The CLI, step by step and as `run`, against the API replay, a real lake and real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_each_step_on_its_own(pipeline_env, api_docs, tmp_path: Path):
    ds = "2024-01-31"
    for step in ("extract", "to-csv", "load"):
        assert cli.main([step, "--dataset", "launches", "--ds", ds]) == 0
        assert cli.main([step, "starlink", "--ds", ds]) == 0
    lake = tmp_path / "lake"
    raw = json.loads((lake / f"raw/spacex/starlink/ds={ds}/starlink.json").read_bytes())
    assert raw == sorted(api_docs["starlink"], key=lambda d: d["id"])  # exactly what the API sent
    manifest = json.loads((lake / f"raw/spacex/starlink/ds={ds}/_manifest.json").read_bytes())
    assert manifest["record_count"] == manifest["total_docs"] == 1234
    assert manifest["source_url"].endswith("/v4/starlink/query") and manifest["fetched_at"].endswith("Z")
    assert rows(pipeline_env["WAREHOUSE_URL"], "select count(*) from raw.starlink") == [(1234,)]
    assert rows(pipeline_env["WAREHOUSE_URL"], "select count(*) from raw.launches") == [(41,)]


def test_a_step_without_its_input_says_what_to_run(pipeline_env, capsys):
    assert cli.main(["to-csv", "launches", "--ds", "2024-01-31"]) == 1
    assert "run `starlink42k extract launches --ds 2024-01-31` for this ds first" in capsys.readouterr().err


def test_usage_errors_exit_2(pipeline_env, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["extract", "--ds", "2024-02-30", "launches"])
    assert exit_.value.code == 2
    assert "is not a date" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["load", "--ds", "2024-01-31"])
    assert "needs a dataset" in capsys.readouterr().err


def test_bad_settings_name_the_variable(pipeline_env, monkeypatch, capsys):
    monkeypatch.setenv("HTTP_TIMEOUT", "soon")
    assert cli.main(["extract", "launches"]) == 1
    assert "HTTP_TIMEOUT='soon' is not a float" in capsys.readouterr().err


def test_json_logs_are_one_object_per_line(pipeline_env, capsys):
    assert cli.main(["--log-format", "json", "extract", "launches", "--ds", "2024-01-31"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    events = [json.loads(line) for line in lines]
    assert {"extract.page", "extract.fetch.done", "extract.written"} <= {e["event"] for e in events}
    page = next(e for e in events if e["event"] == "extract.page")
    assert page["dataset"] == "launches" and page["pages"] == 1 and page["total_docs"] == 41
