"""The cost model (dag_cost.py) on the DAG as it was and as it is, with the per-pod costs issue 17 timed
on a real 2-CPU node: the old design's count is the one measured there (54 tasks for 20 models, a
worker pod each and more for resumed sensors; each model since adds a run task, and a test task if
it has tests); the new
one stays within the goal, and no dbt model's task takes a worker pod. Everything is counted from the
objects Airflow parses, the manifest it renders the dbt tasks from and the charts helm renders.
"""

from __future__ import annotations

import dag_cost
import pytest

GOAL_WORKER_PODS = 15
GOAL_WALL_S = 4 * 60
# The `dbt build` pod's goal (issue 17: 83 s measured, under 30 s wanted): the wall-time goal holds if it does.
GOAL_PRODUCER_S = 30.0
# The DAG's tasks beside the dbt models' (9 ingest, freshness, report, dbt_docs, the producer, cosmos' gate).
OTHER_TASKS = 14


@pytest.fixture(scope="module")
def models() -> tuple[int, int]:
    """The dbt models the DAG renders, and how many of them have tests (the old design rendered a run
    task per model and a test task per tested model)."""
    import json

    with dag_cost.kubernetes_mode():
        from starlink import config

        nodes = json.loads(config.manifest_path().read_text())["nodes"].values()
    tested = {dep for n in nodes if n["resource_type"] == "test" for dep in n["depends_on"]["nodes"]}
    names = {n["unique_id"] for n in nodes if n["resource_type"] == "model"}
    return len(names), len(names & tested)


@pytest.fixture(scope="module")
def cluster() -> dag_cost.Cluster:
    return dag_cost.render_cluster()


@pytest.fixture(scope="module")
def new(cluster: dag_cost.Cluster) -> tuple[int, dict]:
    return dag_cost.design("new")


def test_the_dag_as_it_was_took_a_worker_pod_per_task(cluster: dag_cost.Cluster, models: tuple[int, int]) -> None:
    result = dag_cost.simulate("as-was", *dag_cost.design("as-was"), cluster, dag_cost.Params())
    print(result)
    assert result.tasks == OTHER_TASKS + sum(models)  # 54 with the 20 models (all tested) measured
    assert result.executing == result.tasks - 1  # all but cosmos' `..._done` gate, which Airflow marks done itself
    assert result.worker_pods >= result.tasks  # a deferred sensor takes a second pod to resume (59 measured)
    assert result.pods == 13 and result.in_triggerer == 0
    assert result.wall_s > 2 * GOAL_WALL_S  # 10 min 44 s measured


def test_no_dbt_model_task_takes_a_worker_pod(
    new: tuple[int, dict], cluster: dag_cost.Cluster, models: tuple[int, int]
) -> None:
    _, graph = new
    tasks = {tid: task for tid, (task, _) in graph.items() if getattr(task, "model_unique_id", None)}
    assert len(tasks) == models[0]
    for tid, task in tasks.items():
        cost = dag_cost.classify(task, set(), cluster)
        assert (cost.kind, cost.on_worker) == ("triggerer", False), f"{tid} would take a worker pod: {cost}"


def test_a_run_takes_at_most_15_worker_pods_and_4_minutes(new: tuple[int, dict], cluster: dag_cost.Cluster) -> None:
    params = dag_cost.Params()
    result = dag_cost.simulate("new", *new, cluster, params, producer_s=GOAL_PRODUCER_S)
    print(result)
    assert result.worker_pods <= GOAL_WORKER_PODS
    assert result.waited_for_room == 0  # no pod pending for CPU or memory
    assert result.peak_cpu_m <= params.node_cpu_m and result.peak_memory_mi <= params.node_memory_mi
    assert result.wall_s <= GOAL_WALL_S


def test_the_model_counts_what_it_is_given(cluster: dag_cost.Cluster, models: tuple[int, int]) -> None:
    """What-ifs on real objects move the counts the way their settings say."""
    local = dag_cost.simulate("new+local", *dag_cost.design("new+local"), cluster, dag_cost.Params())
    assert local.worker_pods == 0 and local.pods == 13
    trig = dag_cost.simulate("after-each+trig", *dag_cost.design("after-each+trig"), cluster, dag_cost.Params())
    assert trig.tasks == OTHER_TASKS + sum(models) and trig.in_triggerer == sum(models) and trig.worker_pods == 13
