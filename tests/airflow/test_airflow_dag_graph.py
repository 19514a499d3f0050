"""The task graph, exactly: every task id and every edge, in both execution modes.

The dbt part is derived from the manifest (the dbt project is edited concurrently), by the rules
the DAG promises: a model runs after its parent models (and their tests); the first models wait
for every load; report and docs wait for the last dbt tasks.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from airflow_helpers import load_dag

DATASETS = ("launches", "satcat", "starlink")


def ingest_edges(datasets: tuple[str, ...] = DATASETS) -> dict[str, set[str]]:
    """Extract, to-csv and load per dataset, then the freshness gate after every load."""
    edges: dict[str, set[str]] = {}
    for d in datasets:
        edges[f"{d}.extract"] = set()
        edges[f"{d}.to_csv"] = {f"{d}.extract"}
        edges[f"{d}.load"] = {f"{d}.to_csv"}
    edges["freshness"] = {f"{d}.load" for d in datasets}
    return edges


def models_and_tests(manifest: dict) -> tuple[dict[str, set[str]], dict[str, dict]]:
    """model name -> parent model names; data test unique id -> node."""
    by_id = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    parents = {n["name"]: {by_id[p]["name"] for p in n["depends_on"]["nodes"] if p in by_id} for n in by_id.values()}
    tests = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    for test in tests.values():
        test["models"] = {by_id[p]["name"] for p in test["depends_on"]["nodes"] if p in by_id}
    return parents, tests


def with_downstream(upstream: dict[str, set[str]], final: set[str], group: set[str]) -> dict[str, set[str]]:
    """report and dbt_docs wait for every dbt task nothing else in the group waits for."""
    waited_on = {u for t in group for u in upstream[t]}
    last = {t for t in group if t not in waited_on} | final
    return {**upstream, "report": last, "dbt_docs": last}


def expected_kubernetes(manifest: dict, datasets: tuple[str, ...] = DATASETS) -> dict[str, set[str]]:
    parents, tests = models_and_tests(manifest)
    loads = {"freshness"}  # dbt starts once the gate passed
    tested = {m for t in tests.values() for m in t["models"]}
    edges = ingest_edges(datasets)
    producer, done = "dbt.dbt_producer_watcher", "dbt.dbt_producer_watcher_done"
    edges[producer] = loads
    edges[done] = {producer}

    def run(model: str) -> str:  # a model with tests is a task group (run, test); one without, a task
        return f"dbt.{model}.run" if model in tested else f"dbt.{model}_run"

    def last(model: str) -> str:
        return f"dbt.{model}.test" if model in tested else run(model)

    for model, ps in parents.items():
        edges[run(model)] = {last(p) for p in ps} or loads
        if model in tested:
            edges[f"dbt.{model}.test"] = {f"dbt.{model}.run"}
    group = {t for t in edges if t.startswith("dbt.") and t != done}
    return with_downstream(edges, {done}, group - {producer})


def expected_local(manifest: dict, datasets: tuple[str, ...] = DATASETS) -> dict[str, set[str]]:
    parents, tests = models_and_tests(manifest)
    loads = {"freshness"}  # dbt starts once the gate passed
    edges = ingest_edges(datasets)
    for model, ps in parents.items():
        edges[f"dbt.{model}_model_build"] = {f"dbt.{p}_model_build" for p in ps} or loads
    # A test of several models runs once, after all of them (not inside each model's build).
    for test in tests.values():
        if len(test["models"]) > 1:
            edges[f"dbt.{test['name']}_test"] = {f"dbt.{m}_model_build" for m in test["models"]}
    group = {t for t in edges if t.startswith("dbt.")}
    return with_downstream(edges, set(), group)


def actual(dag) -> dict[str, set[str]]:
    return {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}


def test_kubernetes_graph(k8s_dag, manifest: dict) -> None:
    assert actual(k8s_dag) == expected_kubernetes(manifest)


def test_local_graph(local_dag, manifest: dict) -> None:
    assert actual(local_dag) == expected_local(manifest)


def test_modes_share_every_non_dbt_task(k8s_dag, local_dag) -> None:
    outside = {t for t in actual(k8s_dag) if not t.startswith("dbt.")}
    assert outside == {t for t in actual(local_dag) if not t.startswith("dbt.")}
    assert outside == set(ingest_edges()) | {"report", "dbt_docs"}


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
def test_satcat_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, manifest: dict, mode: str) -> None:
    dag = load_dag(monkeypatch, STARLINK_EXECUTION=mode, DATASETS="launches,starlink")
    expected = (expected_local if mode == "local" else expected_kubernetes)(manifest, ("launches", "starlink"))
    assert actual(dag) == expected
    assert not [t for t in dag.task_ids if t.startswith("satcat.")]
    # dbt leaves CelesTrak out too, even if an earlier run loaded it: it reads DATASETS itself
    # (dbt_project.yml), from the worker's environment or the pods' settings ConfigMap; the DAG
    # passes only the run's ds (tests/airflow/test_airflow_contracts.py compiles it both ways)
    assert [t.vars for t in dag.tasks if getattr(t, "vars", None)] and all(
        t.vars == {"ds": "{{ ds }}"} for t in dag.tasks if getattr(t, "vars", None)
    )


def test_dag_settings(k8s_dag) -> None:
    dag = k8s_dag
    assert dag.schedule == "@daily" or str(dag.timetable.summary) == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout == timedelta(hours=3)
    assert dag.start_date.isoformat() == "2024-01-01T00:00:00+00:00"


@pytest.mark.parametrize("fixture", ["k8s_dag", "local_dag"])
def test_every_task_retries_with_backoff_and_alerts(request: pytest.FixtureRequest, fixture: str) -> None:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    dag = request.getfixturevalue(fixture)
    for task in dag.tasks:
        if task.task_type == "EmptyOperator":  # never executes, so never fails
            continue
        assert task.retries == 3, task.task_id
        assert task.retry_delay == timedelta(minutes=1), task.task_id
        assert task.retry_exponential_backoff == 2.0, task.task_id
        assert task.max_retry_delay == timedelta(minutes=15), task.task_id
        assert task.execution_timeout == timedelta(minutes=45), task.task_id
        callbacks = (
            task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
        )
        slack = [c for c in callbacks if isinstance(c, SlackWebhookNotifier)]
        assert len(slack) == 1 and slack[0].slack_webhook_conn_id == "slack_alerts", task.task_id
    dag_callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    assert any(isinstance(c, SlackWebhookNotifier) for c in dag_callbacks)


def test_dbt_gets_the_run_ds_as_a_var(k8s_dag, local_dag) -> None:
    for dag in (k8s_dag, local_dag):
        dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.") and t.task_type != "EmptyOperator"]
        assert dbt_tasks
        for task in dbt_tasks:
            assert task.vars == {"ds": "{{ ds }}"}, task.task_id
            assert "vars" in task.template_fields, task.task_id
    assert local_dag.get_task("dbt_docs").vars == {"ds": "{{ ds }}"}
    docs = k8s_dag.get_task("dbt_docs")
    assert docs.dbt_arguments[docs.dbt_arguments.index("--vars") + 1] == '{"ds": "{{ ds }}"}'
    assert "dbt_arguments" in docs.template_fields


# --- assets and lineage ------------------------------------------------------------------------------------


def asset_edges(dag) -> set[tuple[str, str]]:
    """(inlet, outlet) of every step: how data flows from asset to asset through the DAG. The dbt
    group is one step: its first tasks read the loaded tables, its last ones write the marts."""
    steps: dict[str, tuple[set, set]] = {}
    for task in dag.tasks:
        step = steps.setdefault("dbt" if task.task_id.startswith("dbt.") else task.task_id, (set(), set()))
        step[0].update(a.name for a in task.inlets or [])
        step[1].update(a.name for a in task.outlets or [])
    return {(i, o) for inlets, outlets in steps.values() for i in inlets for o in outlets}


def reaches(edges: set[tuple[str, str]], start: str, end: str) -> bool:
    frontier, seen = {start}, set()
    while frontier:
        node = frontier.pop()
        seen.add(node)
        frontier |= {b for a, b in edges if a == node} - seen
    return end in seen


@pytest.mark.parametrize("fixture", ["k8s_dag", "local_dag"])
def test_the_asset_graph_runs_lake_to_warehouse_to_marts_to_the_answer(request: pytest.FixtureRequest, fixture: str):
    dag = request.getfixturevalue(fixture)
    edges = asset_edges(dag)
    sources = {"launches": "spacex", "starlink": "spacex", "satcat": "celestrak"}
    for dataset, source in sources.items():
        raw, curated = f"starlink/raw/{source}/{dataset}", f"starlink/curated/{source}/{dataset}"
        table = f"starlink/warehouse/raw.{dataset}"
        assert {(raw, curated), (curated, table), (table, "starlink/warehouse/marts")} <= edges, dataset
        assert (table, "starlink/warehouse/freshness") in edges
        assert reaches(edges, raw, "starlink/report/answer") and reaches(edges, raw, "starlink/docs/dbt")
        extract = dag.get_task(f"{dataset}.extract")
        assert [a.name for a in extract.outlets] == [raw] and not extract.inlets
    assert ("starlink/warehouse/marts", "starlink/report/answer") in edges
    names = {name for edge in edges for name in edge}
    # logical names only: no scheme, host or port, the same on a laptop and in the cluster
    assert all(re.fullmatch(r"starlink/[a-z]+(/[a-z0-9_.]+)*", n) for n in names), names


def test_a_new_answer_schedules_the_consumer_dag(manifest: dict) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow_helpers import DAGS

    bag = DagBag(dag_folder=str(DAGS / "starlink_answer_changed.py"))
    assert bag.import_errors == {}
    dag = bag.dags["starlink_answer_changed"]
    assert [a.name for a in dag.timetable.asset_condition.objects] == ["starlink/report/answer"]
    (task,) = dag.tasks
    assert [a.name for a in task.inlets] == ["starlink/report/answer"]
