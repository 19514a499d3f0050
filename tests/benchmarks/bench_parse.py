"""How long Airflow takes to parse the DAG file, in each execution mode: `make airflow-bench`.

Each measurement runs in a fresh interpreter with no STARLINK_* variable but the mode, no network
and a throwaway AIRFLOW_HOME, and reproduces what Airflow's DAG processor does before it times a
parse: its own modules are loaded, plugins are loaded, and the airflow modules the DAG file names
are pre-imported (`_pre_import_airflow_modules`, [dag_processor] parsing_pre_import_modules). Then
DagBag parses the file, as the processor's child does. Printed per mode:

  parse     DagBag's own duration for the file (what the processor reports and times out on)
  cold      the same file in an interpreter that has imported nothing (`python dag.py`), for scale

Usage: python tests/benchmarks/bench_parse.py [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "airflow" / "dags"
DAG_FILE = DAGS / "starlink_pipeline.py"

_PARSE = """
import json, sys, time
import airflow.dag_processing.manager, airflow.dag_processing.processor as processor
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded() if hasattr(plugins_manager, "ensure_plugins_loaded") else None
import structlog
processor._pre_import_airflow_modules(sys.argv[1], structlog.get_logger())
from airflow.dag_processing.dagbag import DagBag
t = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
wall = time.perf_counter() - t
stat = bag.dagbag_stats[0]
print(json.dumps({"parse": stat.duration.total_seconds(), "wall": wall, "errors": len(bag.import_errors),
                  "tasks": stat.task_num, "dags": stat.dag_num}))
"""

_COLD = """
import json, runpy, sys, time
t = time.perf_counter()
runpy.run_path(sys.argv[1])
print(json.dumps({"cold": time.perf_counter() - t}))
"""


def clean_env(mode: str, home: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": os.path.join(home, "cosmos"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": str(DAGS),
            "STARLINK_EXECUTION": mode,
            # what the Airflow image sets (kubernetes mode needs a tag; any will do to parse)
            "STARLINK_IMAGE_TAG": "bench",
        }
    )
    return env


def run(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAG_FILE)], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(mode: str, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as home:
        env = clean_env(mode, home)
        parses = [run(_PARSE, env) for _ in range(runs)]
        cold = [run(_COLD, env)["cold"] for _ in range(runs)]
    return {
        "mode": mode,
        "parse_s": statistics.median(p["parse"] for p in parses),
        "parse_max_s": max(p["parse"] for p in parses),
        "cold_s": statistics.median(cold),
        "tasks": parses[0]["tasks"],
        "import_errors": parses[0]["errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(mode, args.runs) for mode in ("local", "kubernetes")]
    if args.json:
        print(json.dumps(results))
        return
    print(f"{DAG_FILE.name}: median of {args.runs} fresh interpreters per mode")
    for r in results:
        print(
            f"  {r['mode']:<10} parse {r['parse_s']:.3f} s (max {r['parse_max_s']:.3f})  "
            f"cold {r['cold_s']:.2f} s  tasks {r['tasks']}  import errors {r['import_errors']}"
        )


if __name__ == "__main__":
    main()
