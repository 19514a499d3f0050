"""The DAG file imports cleanly (no environment, either mode), fast, and fails clearly when misconfigured."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from airflow_helpers import DAG_FILE, DAGS, IMAGE_TAG, REPO, clean_env

# Parses DAG_FILE the way Airflow's DAG processor does and reports what it found.
PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("starlink_pipeline")
print(json.dumps({"errors": {k: v for k, v in bag.import_errors.items()}, "dags": sorted(bag.dag_ids),
                  "tasks": len(dag.tasks) if dag else 0,
                  "kinds": sorted({type(t).__name__ for t in dag.tasks}) if dag else [],
                  "tags": sorted(dag.tags) if dag else []}))
"""


def parse_in_subprocess(**env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PARSE, str(DAG_FILE)],
        env=clean_env(PYTHONPATH=str(DAGS), **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "mode", "operator"),
    [
        ({}, "local", "CliOperator"),  # nothing set at all: the documented default
        ({"STARLINK_EXECUTION": "local"}, "local", "CliOperator"),
        ({"STARLINK_EXECUTION": "kubernetes", "STARLINK_IMAGE_TAG": IMAGE_TAG}, "kubernetes", "CliPodOperator"),
    ],
    ids=["no-env", "local", "kubernetes"],
)
def test_dagbag_has_no_import_errors(manifest: dict, env: dict, mode: str, operator: str) -> None:
    found = parse_in_subprocess(**env)
    assert found["errors"] == {}
    assert found["dags"] == ["starlink_pipeline"]
    assert mode in found["tags"]
    assert operator in found["kinds"]


def test_helper_package_is_not_parsed_as_dag_files(manifest: dict) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert {stat.file for stat in bag.dagbag_stats} == {"starlink_pipeline.py", "starlink_answer_changed.py"}
    assert (DAGS / ".airflowignore").read_text().splitlines()[-1] == "starlink/"


def test_wrong_settings_fail_the_import_with_the_variable_named(manifest: dict) -> None:
    found = parse_in_subprocess(STARLINK_EXECUTION="k8s")
    assert "STARLINK_EXECUTION='k8s'" in next(iter(found["errors"].values()))
    found = parse_in_subprocess(DATASETS="launches,tle")
    assert "DATASETS" in next(iter(found["errors"].values()))
    found = parse_in_subprocess(STARLINK_DBT_MANIFEST=str(REPO / "nowhere" / "manifest.json"))
    assert "make manifest" in next(iter(found["errors"].values()))
    # kubernetes mode without the images' tag (an Airflow image not built by `make images`), or `latest`
    found = parse_in_subprocess(STARLINK_EXECUTION="kubernetes")
    assert "STARLINK_IMAGE_TAG=''" in next(iter(found["errors"].values()))
    found = parse_in_subprocess(STARLINK_EXECUTION="kubernetes", STARLINK_IMAGE_TAG="latest")
    assert "never `latest`" in next(iter(found["errors"].values()))


def test_parse_time_is_under_one_second(manifest: dict) -> None:
    """tests/benchmarks/bench_parse.py in each mode: DagBag's duration after the processor's pre-imports."""
    out = subprocess.run(
        [sys.executable, str(REPO / "tests" / "benchmarks" / "bench_parse.py"), "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for r in results:
        print(f"parse {r['mode']}: {r['parse_s']:.3f} s (cold interpreter {r['cold_s']:.2f} s), {r['tasks']} tasks")
        assert r["import_errors"] == 0
        # Measured ~0.15-0.25 s here; a generous bound that still catches parse-time I/O or dbt runs.
        assert r["parse_s"] < 1.0
