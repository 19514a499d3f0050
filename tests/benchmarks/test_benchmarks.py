"""Every benchmark script, run at a tiny size, so that none can rot unnoticed (`make bench` broke once
when datasets became declarative). The sizes prove nothing about speed; the scripts' own checks
(row counts, builds that succeed) and their output files are what is checked here. The other two
run in the tests too: bench_parse.py by tests/airflow/test_airflow_dag_import.py (its parse-time
bound), dag_cost.py by test_dag_cost.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_load_benchmark(warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_ROWS", "300")
    monkeypatch.setenv("BENCH_RUNS", "2")
    monkeypatch.setenv("WAREHOUSE_URL", warehouse_url)
    import bench_load

    assert bench_load.main() == 0
    [result] = json.loads((tmp_path / "data" / "bench" / "load.json").read_text())["results"]
    assert (result["rows"], result["runs"]) == (300, 2)
    for way in ("project_s", "psql_copy_s", "pandas_to_sql_s"):
        assert 0 < result[way]["min"] <= result[way]["median"], way
    assert result["vs_copy"]["median"] > 0


@pytest.mark.pipeline
def test_dbt_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DAYS", "2")
    monkeypatch.setenv("BENCH_SATELLITES", "300")
    monkeypatch.setenv("BENCH_RUNS", "1")
    import bench_dbt

    assert bench_dbt.main() == 0
    results = json.loads((tmp_path / "data" / "bench" / "dbt.json").read_text())
    assert results["real_size"]["dbt_build_s"]["min"] > 0
    scaled = results["scaled"]
    assert (scaled["days"], scaled["satellites"]) == (2, 300)
    assert scaled["raw_starlink_rows"] == 2 * 300  # the snapshot, loaded for both days
    assert scaled["ratio_last_vs_day1"]["min"] > 0
