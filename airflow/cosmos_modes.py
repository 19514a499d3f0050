"""Count what each cosmos Kubernetes mode would create for our dbt project: `make airflow-cosmos-modes`.

Renders the dbt step from the manifest (as the DAG does, same pod defaults) in each candidate
mode and counts, per DAG run on the success path:

  tasks        Airflow task instances in the dbt group
  worker pods  KubernetesExecutor pods, one per task that executes (EmptyOperator never does);
               a deferrable sensor that has to wait needs one more pod to resume
  dbt pods     pods started from the dbt image (sensors start one only on a retry)
  chain        longest dependency chain of tasks: each link costs at least one worker-pod start

No cluster is needed: nothing is executed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

DAGS = Path(__file__).resolve().parent / "dags"


def render(execution_mode: str, test_behavior: str) -> dict:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    from airflow.sdk.bases.sensor import BaseSensorOperator
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, LoadMode, TestBehavior
    from starlink import config, pod_defaults, tasks

    with DAG(
        dag_id=f"count_{execution_mode}_{test_behavior}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)
    ) as dag:
        DbtTaskGroup(
            group_id="dbt",
            project_config=ProjectConfig(
                manifest_path=config.manifest_path(), project_name=tasks.DBT_PROJECT_NAME, install_dbt_deps=False
            ),
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode(execution_mode), dbt_project_path=pod_defaults.DBT_PROJECT_DIR
            ),
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST,
                test_behavior=TestBehavior(test_behavior),
                should_detach_multiple_parents_tests=test_behavior == "build",
                emit_datasets=False,
            ),
            operator_args={**pod_defaults.dbt_pod(), "vars": tasks.dbt_vars()},
        )
    tasks = dag.tasks
    executing = [t for t in tasks if not isinstance(t, EmptyOperator)]
    sensors = [t for t in tasks if isinstance(t, BaseSensorOperator)]
    pods = [t for t in executing if isinstance(t, KubernetesPodOperator) and t not in sensors]

    memo: dict[str, int] = {}

    def chain(task_id: str) -> int:
        if task_id not in memo:
            task = dag.get_task(task_id)
            memo[task_id] = 1 + max((chain(u) for u in task.upstream_task_ids), default=0)
        return memo[task_id]

    return {
        "mode": f"{execution_mode} / {test_behavior}",
        "tasks": len(tasks),
        "worker_pods": len(executing),
        "deferrable_sensors": sum(1 for s in sensors if getattr(s, "deferrable", False)),
        "dbt_pods": len(pods),
        "chain": max(chain(t.task_id) for t in tasks),
    }


CANDIDATES = [
    ("kubernetes", "after_each"),  # cosmos' default: a run pod and a test pod per model
    ("kubernetes", "build"),  # a `dbt build --select <model>` pod per model
    ("watcher_kubernetes", "after_each"),  # one `dbt build` pod; a run and a test sensor per model
    ("watcher_kubernetes", "after_all"),  # one `dbt build` pod without tests, then one `dbt test` pod
]


def main() -> None:
    home = tempfile.mkdtemp(prefix="cosmos-modes-")
    os.environ.setdefault("AIRFLOW_HOME", home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    os.environ.setdefault("AIRFLOW__COSMOS__CACHE_DIR", os.path.join(home, "cosmos"))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("STARLINK_IMAGE_TAG", "bench")  # what the Airflow image sets
    sys.path.insert(0, str(DAGS))
    rows = [render(mode, behavior) for mode, behavior in CANDIDATES]
    header = ("tasks", 6), ("worker pods", 13), ("+resumes<=", 11), ("dbt pods", 10), ("chain", 7)
    print(f"{'cosmos mode / test behavior':<34}" + "".join(f"{name:>{width}}" for name, width in header))
    for r in rows:
        print(
            f"{r['mode']:<34}{r['tasks']:>6}{r['worker_pods']:>13}{r['deferrable_sensors']:>11}"
            f"{r['dbt_pods']:>10}{r['chain']:>7}"
        )


if __name__ == "__main__":
    main()
