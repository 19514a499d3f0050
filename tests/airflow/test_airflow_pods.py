"""For every task of the Kubernetes-mode DAG, the exact pod it would submit, built offline.

Templates are rendered with a scheduled run's context for 2024-01-31; KubernetesPodOperators are
asked for `build_pod_request_obj(context, dry_run=True)`, cosmos tasks after `build_kube_args`
(what they do before submitting). The cosmos sensors submit a pod only when retried (their
fallback runs the one model): that pod is checked too.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import pytest
import yaml
from airflow_helpers import DS, IMAGE_TAG, build_pod, template_context

from starlink42k.warehouse import dbt_pgoptions

NAMESPACE = "starlink"
# The tag the Airflow image carries (STARLINK_IMAGE_TAG): the pods run the images of that build.
PIPELINE = f"starlink42k/pipeline:{IMAGE_TAG}"
DBT = f"starlink42k/dbt:{IMAGE_TAG}"
# Every pipeline and dbt pod reads the pipeline's settings (DATASETS, TARGET_SATELLITES, ...) from
# the platform chart's ConfigMap.
SETTINGS = [{"configMapRef": {"name": "pipeline-settings"}}]

# env name -> (Secret, key): charts/starlink-platform/templates/secrets.yaml
LAKE = {
    "LAKE_URL": ("lake-credentials", "lake-url"),
    "S3_ENDPOINT_URL": ("lake-credentials", "endpoint-url"),
    "AWS_ACCESS_KEY_ID": ("lake-credentials", "access-key-id"),
    "AWS_SECRET_ACCESS_KEY": ("lake-credentials", "secret-access-key"),
    "AWS_DEFAULT_REGION": ("lake-credentials", "region"),
}
CLI_SECRETS = {**LAKE, "WAREHOUSE_URL": ("warehouse-credentials", "url")}
DBT_SECRETS = {
    "WAREHOUSE_HOST": ("warehouse-credentials", "host"),
    "WAREHOUSE_PORT": ("warehouse-credentials", "port"),
    "WAREHOUSE_USER": ("warehouse-credentials", "user"),
    "WAREHOUSE_PASSWORD": ("warehouse-credentials", "password"),
    "WAREHOUSE_DB": ("warehouse-credentials", "dbname"),
}
# dbt's vars for a scheduled run of DS: the run's date only; the rest come from the settings
RUN_VARS = {"ds": DS}
CLI_ENV = {"LOG_FORMAT": "json", "DATA_DIR": "/tmp/starlink42k", "HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib"}
DBT_ENV = {
    "DBT_TARGET_PATH": "/tmp/dbt/target",
    "DBT_LOG_PATH": "/tmp/dbt/logs",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "HOME": "/tmp",
    # the session options the CLI gives its own dbt: bounded lock waits, a killed pod's session ended
    "PGOPTIONS": dbt_pgoptions(),
}
CLI_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
DBT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "1536Mi"}}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Secret-looking literals: AWS keys, Slack webhooks/tokens, passwords in URLs, PEM keys.
SECRET_LOOKING = re.compile(
    r"AKIA[0-9A-Z]{16}|hooks\.slack\.com/services/|xox[abp]-|://[^/\s:@]+:[^@\s]+@|-----BEGIN [A-Z ]*PRIVATE KEY"
)


def env_of(container: dict) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    literal, secret = {}, {}
    for e in container.get("env", []):
        if "valueFrom" in e:
            ref = e["valueFrom"]["secretKeyRef"]
            secret[e["name"]] = (ref["name"], ref["key"])
        else:
            literal[e["name"]] = e["value"]
    return literal, secret


def assert_common(pod: dict, component: str, image: str, resources: dict) -> dict:
    meta, spec = pod["metadata"], pod["spec"]
    assert meta["namespace"] == NAMESPACE
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63
    labels = meta["labels"]
    assert labels["app.kubernetes.io/part-of"] == "starlink42k"
    assert labels["starlink42k/role"] == "pipeline"
    assert labels["app.kubernetes.io/component"] == component
    assert labels["dag_id"] == "starlink_pipeline" and labels["try_number"] == "1"
    assert spec["serviceAccountName"] == "starlink-pipeline"
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"] == POD_SECURITY
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}]
    [container] = spec["containers"]
    assert container["image"] == image
    assert not image.endswith(":latest")
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["resources"] == resources
    assert container["securityContext"] == CONTAINER_SECURITY
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["envFrom"] == SETTINGS
    assert not SECRET_LOOKING.search(repr(pod)), "a credential-looking literal in the pod"
    return container


def assert_env(container: dict, plain: dict[str, str], secrets: dict[str, tuple[str, str]]) -> None:
    literal, secret = env_of(container)
    assert secret == secrets
    # Literal values: our settings, and cosmos' AIRFLOW_CTX_* (dag/task/run ids), nothing else.
    assert {k: v for k, v in literal.items() if not k.startswith("AIRFLOW_CTX_")} == plain
    assert not set(literal) & set(secrets)


@pytest.fixture
def tasks(k8s_dag) -> dict[str, Any]:
    return {t.task_id: t for t in k8s_dag.tasks}


@pytest.mark.parametrize("dataset", ["launches", "starlink", "satcat"])
@pytest.mark.parametrize("command", ["extract", "to-csv", "load"])
def test_cli_step_pods(tasks: dict, dataset: str, command: str) -> None:
    pod = build_pod(tasks[f"{dataset}.{command.replace('-', '_')}"])
    container = assert_common(pod, "pipeline", PIPELINE, CLI_RESOURCES)
    assert container["command"] == []  # the image's ENTRYPOINT is the CLI
    assert container["args"] == [command, dataset, "--ds", DS]
    assert_env(container, CLI_ENV, CLI_SECRETS)


def test_report_pod(tasks: dict) -> None:
    pod = build_pod(tasks["report"])
    container = assert_common(pod, "pipeline", PIPELINE, CLI_RESOURCES)
    assert container["command"] == []
    assert container["args"] == ["report", "--ds", DS]
    assert_env(container, CLI_ENV, CLI_SECRETS)


def dbt_vars(args: list[str]) -> dict:
    return yaml.safe_load(args[args.index("--vars") + 1])


def test_dbt_build_pod_runs_the_whole_project_once(tasks: dict) -> None:
    pod = build_pod(tasks["dbt.dbt_producer_watcher"])
    container = assert_common(pod, "dbt", DBT, DBT_RESOURCES)
    # No command: the dbt image has no dbt ENTRYPOINT, cosmos puts the whole command in args.
    assert container["command"] == []
    args = container["args"]
    assert args[:2] == ["dbt", "build"]
    assert dbt_vars(args) == RUN_VARS  # a string, not a YAML date
    assert args[args.index("--project-dir") + 1] == "/opt/dbt"
    assert "--select" not in args and "--profiles-dir" not in args
    assert_env(container, DBT_ENV, DBT_SECRETS)


def test_a_model_retried_on_its_own_builds_it_in_its_own_pod(tasks: dict, manifest: dict) -> None:
    """A model's task runs no pod on the success path (it ends in the triggerer); retried, it runs
    `dbt build` (the model and its tests) for that model alone: that pod."""
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    builds = {tid: t for tid, t in tasks.items() if tid.endswith("_model_build")}
    assert {tid.removeprefix("dbt.").removesuffix("_model_build") for tid in builds} == set(models)
    for task_id, task in sorted(builds.items()):
        model = models[task_id.removeprefix("dbt.").removesuffix("_model_build")]
        pod = build_pod(task)
        container = assert_common(pod, "dbt", DBT, DBT_RESOURCES)
        args = container["args"]
        assert args[:2] == ["dbt", "build"], task_id
        assert dbt_vars(args) == RUN_VARS, task_id
        assert args[args.index("--project-dir") + 1] == "/opt/dbt", task_id
        assert args[args.index("--select") + 1] == "fqn:" + ".".join(model["fqn"]), task_id
        assert_env(container, DBT_ENV, DBT_SECRETS)


def assert_dbt_init_container(pod: dict) -> list[str]:
    """The dbt half of a dbt-then-CLI pod: the dbt image, its restrictions, writing into /tmp."""
    [dbt] = pod["spec"]["initContainers"]
    assert dbt["name"] == "dbt" and dbt["image"] == DBT and dbt["imagePullPolicy"] == "IfNotPresent"
    assert dbt.get("command") is None  # the dbt image has no ENTRYPOINT
    assert dbt["securityContext"] == CONTAINER_SECURITY
    assert dbt["resources"] == DBT_RESOURCES
    assert dbt["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # shared with the CLI
    assert dbt["envFrom"] == SETTINGS
    assert_env(dbt, DBT_ENV, DBT_SECRETS)
    return dbt["args"]


def test_dbt_docs_pod_generates_then_uploads_to_the_lake(tasks: dict) -> None:
    """Init container (dbt image): `dbt docs generate` into the pod's /tmp; then the main container
    (pipeline image) copies the three files to <LAKE_URL>/dbt-docs/: `starlink42k publish-docs`."""
    pod = build_pod(tasks["dbt_docs"])
    upload = assert_common(pod, "dbt-docs", PIPELINE, CLI_RESOURCES)
    assert not upload.get("command")  # the image's ENTRYPOINT, the CLI
    assert upload["args"] == ["publish-docs", "--from", "/tmp/dbt/target"]
    assert_env(upload, {**CLI_ENV, "DBT_TARGET_PATH": "/tmp/dbt/target"}, LAKE)  # the lake only
    args = assert_dbt_init_container(pod)
    assert args[:3] == ["dbt", "docs", "generate"]
    assert dbt_vars(args) == RUN_VARS
    assert args[args.index("--project-dir") + 1] == "/opt/dbt"


def test_freshness_gate_pod_checks_with_dbt_then_judges_and_stores(tasks: dict) -> None:
    """Init container: `dbt source freshness` of the run's sources as of ds, into /tmp (exit 1, a stale
    source, is a result); main container: `starlink42k freshness --from` it, which keeps the result in
    the warehouse and fails the task on a source past its error threshold."""
    pod = build_pod(tasks["freshness"])
    gate = assert_common(pod, "freshness", PIPELINE, CLI_RESOURCES)
    assert gate["args"] == [
        "freshness", "--ds", DS, "--fail-on-error", "--from", "/tmp/dbt/target/sources.json"
    ]  # fmt: skip
    assert_env(gate, {**CLI_ENV, "DBT_TARGET_PATH": "/tmp/dbt/target"}, CLI_SECRETS)
    bash, flag, script = assert_dbt_init_container(pod)
    assert (bash, flag) == ("bash", "-c")
    assert script.startswith('dbt source freshness --project-dir /opt/dbt --vars \'{"ds": "2024-01-31"}\' --select ')
    assert script.split("--select ")[1].split(";")[0].split() == [
        "source:spacex.launches", "source:celestrak.satcat", "source:spacex.starlink"
    ]  # fmt: skip
    assert script.endswith('status=$?; [ "$status" -le 1 ] || exit "$status"')


def test_every_task_is_covered(tasks: dict) -> None:
    """Every task submits one of the pods above, except the watcher's gate, which executes nothing."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    no_pod = {tid for tid, t in tasks.items() if not isinstance(t, KubernetesPodOperator)}
    assert no_pod == {"dbt.dbt_producer_watcher_done"}
    assert tasks["dbt.dbt_producer_watcher_done"].task_type == "EmptyOperator"


def test_the_ds_comes_from_the_run(tasks: dict) -> None:
    """Another logical date renders another --ds: nothing is fixed at parse time."""
    from datetime import datetime

    task = tasks["launches.extract"]
    context = template_context(task, datetime(2022, 10, 28, tzinfo=UTC))
    task.render_template_fields(context)
    assert task.build_pod_request_obj(context, dry_run=True).spec.containers[0].args[-1] == "2022-10-28"


def test_a_stopped_task_gives_its_step_time_to_stop_its_work(tasks: dict) -> None:
    """Stopping a task deletes its pod: the SIGTERM grace period outlasts the step's own stop (its
    statement cancelled at once, dbt given DBT_STOP_SECONDS before SIGKILL), on every pod."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    from starlink42k.dbt_runner import DBT_STOP_SECONDS

    pods = [t for t in tasks.values() if isinstance(t, KubernetesPodOperator)]
    assert pods
    for task in pods:
        grace = build_pod(task)["spec"].get("terminationGracePeriodSeconds")
        assert grace is not None and grace >= 2 * DBT_STOP_SECONDS + 5, (task.task_id, grace)
        assert task.termination_grace_period == grace  # and on_kill deletes the pod with it
