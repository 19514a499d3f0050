"""airflow/airflow.mk, included the way the top-level Makefile includes it (dry runs: `make -n`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from airflow_helpers import REPO

# What the top-level Makefile defines before its `include airflow/airflow.mk`.
WRAPPER = """\
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help-all
MAKEFLAGS += --no-print-directory
BIN := $(CURDIR)/.venv/bin
DS ?=
.PHONY: help-all venv-dev
help-all: ### Show every entry point (as the top-level Makefile's: `## ` and `### ` entries)
\t@awk 'BEGIN {FS = ":.*##+ "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-18s %s\\n", $$1, $$2}' $(MAKEFILE_LIST)
venv-dev:
\t@true
include airflow/airflow.mk
"""


@pytest.fixture
def make(tmp_path: Path):
    makefile = tmp_path / "Makefile"
    makefile.write_text(WRAPPER)

    def run(*args: str) -> str:
        out = subprocess.run(
            ["make", "-f", str(makefile), *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
        )
        return out.stdout

    return run


def test_help_all_lists_the_airflow_targets(make) -> None:
    listed = make("help-all")
    for target in ("manifest", "airflow-run", "airflow-ui", "airflow-test", "airflow-bench"):
        assert f"  {target} " in listed


def test_airflow_run_sets_up_an_isolated_local_airflow(make) -> None:
    script = make("-n", "airflow-run", "DS=2024-01-31", "-W", "dbt/target/manifest.json")
    # Airflow's home beside the pipeline's data, wherever the CLI's settings put it (DATA_DIR)
    assert 'airflow_home="$(' in script and 'starlink42k config DATA_DIR)/airflow"' in script
    assert 'lake="$(' in script and "starlink42k config LAKE_URL)" in script
    assert 'AIRFLOW_HOME="$airflow_home"' in script
    assert f"AIRFLOW__CORE__DAGS_FOLDER='{REPO}/airflow/dags'" in script
    assert "AIRFLOW__CORE__LOAD_EXAMPLES=False" in script
    assert "AIRFLOW__COSMOS__ENABLE_TELEMETRY=False" in script
    assert 'AIRFLOW__COSMOS__CACHE_DIR="$airflow_home/cosmos"' in script
    assert "STARLINK_EXECUTION=local" in script
    assert 'if [ -z "${SPACEX_API_URL:-}" ]; then' in script and "starlink42k replay --port 8765" in script
    assert 'export WAREHOUSE_URL="$(' in script and "starlink42k -q warehouse url" in script
    assert "airflow db migrate" in script
    assert 'airflow dags test starlink_pipeline "$ds"' in script and 'ds="2024-01-31"' in script


def test_airflow_ui_runs_standalone_on_loopback(make) -> None:
    script = make("-n", "airflow-ui", "-W", "dbt/target/manifest.json")
    assert "airflow standalone" in script
    assert "AIRFLOW__API__HOST=127.0.0.1" in script
    assert "http://127.0.0.1:8090" in script
    assert "$airflow_home/simple_auth_manager_passwords.json.generated" in script
    assert f"AIRFLOW__CORE__PLUGINS_FOLDER='{REPO}/airflow/plugins'" in script


def test_manifest_is_dbt_parse_without_a_database(make) -> None:
    script = make("-n", "-B", "manifest")
    assert "dbt parse --project-dir dbt --profiles-dir dbt" in script
    assert "--target-path target" in script


def test_airflow_bench_prints_the_cost_model_then_the_parse_time(make) -> None:
    script = make("-n", "airflow-bench", "PRODUCER_S=25", "-W", "dbt/target/manifest.json")
    assert "tests/benchmarks/dag_cost.py --producer-s 25" in script
    assert script.index("dag_cost.py") < script.index("tests/benchmarks/bench_parse.py")
