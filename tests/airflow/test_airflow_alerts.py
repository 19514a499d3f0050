"""Failures post to Slack: real HTTP POSTs, to a webhook server on loopback, counted and read.

Here through dag.test(), the path of `make airflow-run` (`airflow dags test`): tasks run through
Airflow's task runner, which calls on_failure_callback as a worker does, and the run's callbacks
run in the same process. The scheduler and DAG processor path (the cluster's, `make airflow-ui`'s)
is test_airflow_processes.py's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from airflow_helpers import Webhook, closed_port, load_dag


def test_failed_tasks_and_their_run_post_one_alert_each_in_dags_test(
    airflow_db, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make airflow-run`'s path (`airflow dags test`: every task and the DAG's callbacks in one
    process): two tasks fail, each posts its own alert, and the run posts its own, though Airflow
    hands DAG callbacks the scheduler's SerializedDAG there."""
    dag = load_dag(monkeypatch, STARLINK_EXECUTION="local")
    # The two SpaceX extracts fail for real: their API refuses connections.
    port = closed_port()
    monkeypatch.setenv("SPACEX_API_URL", f"http://127.0.0.1:{port}/v4")
    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "1")
    failing = ("launches.extract", "starlink.extract")
    for task_id in failing:  # their final failure now rather than after three backed-off retries
        dag.get_task(task_id).retries = 0

    run = dag.test(
        logical_date=datetime(2024, 1, 31, tzinfo=UTC),
        # every other task is marked done, not run
        mark_success_pattern=r"(?!(launches|starlink)\.extract$).*",
    )

    assert str(run.state) == "failed"
    texts = [post["json"]["text"] for post in webhook.posts]
    print(*texts, sep="\n\n")
    assert {post["path"] for post in webhook.posts} == {"/services/T0/B0/test-only"}
    task_alerts = sorted((t for t in texts if "task failed" in t), key=lambda t: t.split("Task: ")[1])
    assert [t.split("Task: ", 1)[1].splitlines()[0] for t in task_alerts] == list(failing)
    for task_id, alert in zip(failing, task_alerts, strict=True):
        assert "DAG: starlink_pipeline" in alert
        assert f"Run: {run.run_id} (ds 2024-01-31)" in alert
        assert "Try: 1" in alert
        # the CLI's own error line, not Airflow's "Bash command failed"
        dataset = task_id.split(".")[0]
        assert f"Why: cannot reach http://127.0.0.1:{port}/v4/{dataset}/query" in alert, alert
        assert alert.split("Log: ", 1)[1].strip() == (
            f"http://localhost:8080/dags/starlink_pipeline/runs/{quote(run.run_id)}/tasks/{task_id}?try_number=1"
        )
    [run_alert] = [t for t in texts if "DAG run failed" in t]
    assert run_alert.splitlines()[1:] == ["DAG: starlink_pipeline", f"Run: {run.run_id}", "Reason: task_failure"]
    assert len(texts) == 3


@pytest.mark.pipeline  # the real ingest of the three datasets, then the gate: minutes
def test_a_frozen_catalogue_stops_the_run_at_the_freshness_gate_and_alerts(
    airflow_db, webhook: Webhook, sample_replay, warehouse_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay whose SATCAT stopped updating: the bundled catalogue's newest record is from
    2026-11-20; a run for 2027-06-01 finds it 193 days old, past SATCAT_ERROR_AFTER_DAYS. The real
    ingest and the real gate (dbt source freshness, then the CLI) run; the run fails there, before
    dbt builds an answer on it, at once (a stale source is a verdict: its retries are not spent),
    and Slack hears once which source, as of when, and the threshold; then the run's alert. The
    frozen SpaceX API only warns."""
    dag = load_dag(monkeypatch, STARLINK_EXECUTION="local")
    for name, value in {
        "SPACEX_API_URL": sample_replay.spacex_url,
        "CELESTRAK_URL": sample_replay.url,
        "WAREHOUSE_URL": warehouse_url,
        "LAKE_URL": (tmp_path / "lake").as_uri(),
        "DATA_DIR": str(tmp_path / "data"),
        "SATCAT_ERROR_AFTER_DAYS": "45",
    }.items():
        monkeypatch.setenv(name, value)
    assert dag.get_task("freshness").retries == 3  # for real errors, e.g. an unreachable warehouse

    run = dag.test(
        logical_date=datetime(2027, 6, 1, tzinfo=UTC),
        mark_success_pattern=r"^(dbt_docs|report)$",  # never reached: they wait for the gate
    )

    assert str(run.state) == "failed"
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert str(tis["satcat.load"].state) == "success"
    assert (str(tis["freshness"].state), tis["freshness"].try_number) == ("failed", 1)
    assert {str(ti.state) for t, ti in tis.items() if t.startswith("dbt.")} == {"upstream_failed"}
    texts = [p["json"]["text"] for p in webhook.posts]
    print(*texts, sep="\n\n")
    [alert, run_alert] = texts
    assert "Task: freshness" in alert and "Try: 1" in alert
    assert "DAG run failed" in run_alert
    why = alert.split("Why: ", 1)[1].splitlines()[0]
    assert why == (
        "freshness gate: CelesTrak SATCAT (celestrak.satcat) is too old: its newest record is from 2026-11-20, "
        "193 days before 2027-06-01 (threshold 45 days)"
    )
    assert "spacex" not in why  # stale too, but a warning only


# --- a stale source is a verdict: the gate fails without retries; anything else keeps them -------------

STALE = (
    "freshness gate: CelesTrak SATCAT (celestrak.satcat) is too old: its newest record is from 2026-11-20, "
    "11 days before 2026-12-01 (threshold 5 days)"
)


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        (STALE, True),
        # a source dbt could not check (e.g. the warehouse dropped the connection) is no verdict
        ("freshness gate: CelesTrak SATCAT (celestrak.satcat): dbt could not check its freshness", False),
        ("warehouse postgresql://warehouse:5432/warehouse refused the connection", False),
    ],
    ids=["stale", "unchecked", "warehouse"],
)
def test_the_gate_pod_fails_at_once_on_a_stale_source_only(
    monkeypatch: pytest.MonkeyPatch, line: str, verdict: bool
) -> None:
    """Kubernetes mode: the pod's termination message (the CLI's line) decides. Kubernetes is the
    only stand-in: a pod whose container ended with that message, and the exception the pod
    operator raises for it."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
    from airflow_helpers import template_context
    from kubernetes.client import models as k8s

    gate = load_dag(monkeypatch, STARLINK_EXECUTION="kubernetes").get_task("freshness")
    ended = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=1, message=line + "\n"))
    status = k8s.V1ContainerStatus(
        name="base", state=ended, image=gate.image, image_id="", ready=False, restart_count=0
    )
    pod = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="freshness-x"), status=k8s.V1PodStatus(container_statuses=[status]))

    def cluster(self: KubernetesPodOperator, context: object) -> None:
        self.remote_pod = pod  # as execute_sync leaves it, then cleanup() raises:
        raise AirflowException(f"Pod freshness-x returned a failure.\n{line}\n")

    monkeypatch.setattr(KubernetesPodOperator, "execute", cluster)
    with pytest.raises(AirflowException) as failure:
        gate.execute(template_context(gate))
    assert isinstance(failure.value, AirflowFailException) is verdict
    assert str(failure.value) == line  # the Slack alert's Why: line


def test_the_local_gate_keeps_its_retries_when_the_warehouse_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Local mode, the real CLI: an unreachable warehouse is an error like any other."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
    from airflow_helpers import template_context

    gate = load_dag(monkeypatch, STARLINK_EXECUTION="local").get_task("freshness")
    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://nobody@127.0.0.1:{closed_port()}/warehouse")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    context = template_context(gate)
    gate.render_template_fields(context)
    with pytest.raises(AirflowException) as failure:
        gate.execute(context)
    assert not isinstance(failure.value, AirflowFailException)
    print(failure.value)
    assert str(failure.value) != "Bash command failed. The command returned a non-zero exit code 1."
