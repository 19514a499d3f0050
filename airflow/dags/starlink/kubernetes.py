"""Everything Kubernetes-specific of the DAG (STARLINK_EXECUTION=kubernetes), in one module: what the
pipeline pods share, the catalogue of Secrets they read, their operators, and the steps built from
them. tasks.py picks this module or local.py once; nothing else here knows about the other mode.

    pod defaults    namespace, pinned images, resources, the security context Pod Security
                    "restricted" demands, the ServiceAccount and labels the NetworkPolicies
                    select, logging and cleanup: a step is `CliPodOperator(**pipeline_pod(), ...)`
    Secrets         each `Secret("env", NAME, secret, key)` declared once (values never pass
                    through Airflow: the kubelet injects them)
    operators       CliPodOperator (the CLI in a pod of the pipeline image), DbtThenCliPodOperator
                    (dbt in an init container of the dbt image, then the CLI), and
                    DbtBuildWatcherKubernetesOperator (a dbt model's status, in the triggerer)
    steps           cli(), freshness_gate(), dbt_group(), dbt_docs()

How a run spends pods (tests/benchmarks/dag_cost.py counts them from these objects): each CLI step
and the one `dbt build` pod are a KubernetesPodOperator, so a worker pod (KubernetesExecutor) that
starts a pipeline or dbt pod; the per-model tasks start and end in the triggerer and take no pod,
unless a model is retried on its own.

Contracts with other parts of the repository:
- images: `starlink42k/<name>:<tag>`, the tag the Airflow image was built with (STARLINK_IMAGE_TAG,
  images/tag.sh), built by `make images` and `kind load`ed, hence IfNotPresent (never the `latest`
  tag, which makes Kubernetes pull Always);
- images/*/Dockerfile: uid RUN_AS_USER (10001), nothing written outside /tmp;
- the pipeline image: ENTRYPOINT `starlink42k`, the CLI (every step, and the docs upload);
- the dbt image: project at /opt/dbt, DBT_PROFILES_DIR set, no ENTRYPOINT (cosmos passes the
  whole `dbt ...` command as the container's arguments);
- namespace, ServiceAccount, labels, the settings ConfigMap and the Secrets' names and keys:
  charts/starlink-platform (templates/secrets.yaml);
- the triggerer imports the per-model trigger from airflow/plugins/starlink_triggers.py (the Airflow
  image's plugins folder: the DAGs folder is not on the triggerer's path).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from airflow.providers.cncf.kubernetes.utils.container import get_container_termination_message
from airflow.triggers.base import StartTriggerArgs
from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
from cosmos.constants import PRODUCER_WATCHER_TASK_ID, DbtResourceType, ExecutionMode, LoadMode, TestBehavior
from cosmos.operators.base import DbtBuildMixin
from cosmos.operators.watcher_kubernetes import DbtConsumerWatcherKubernetesSensor
from kubernetes.client import models as k8s

from . import config
from .operators import Step

# --- images and what every pod shares ------------------------------------------------------------


def pipeline_image() -> str:
    return f"starlink42k/pipeline:{config.image_tag()}"


def dbt_image() -> str:
    return f"starlink42k/dbt:{config.image_tag()}"


# Where the dbt image has the project; cosmos passes it as --project-dir.
DBT_PROJECT_DIR = "/opt/dbt"
# The pipeline's settings (DATASETS, TARGET_SATELLITES, ...): one ConfigMap of the platform chart,
# as environment variables of every pipeline and dbt pod (dbt_project.yml reads them too).
SETTINGS_CONFIGMAP = "pipeline-settings"
SETTINGS = k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=SETTINGS_CONFIGMAP))

SERVICE_ACCOUNT = "starlink-pipeline"
RUN_AS_USER = 10001
# The NetworkPolicies let pods with these labels reach the warehouse, MinIO and public HTTPS.
LABELS = {"app.kubernetes.io/part-of": "starlink42k", "starlink42k/role": "pipeline"}

# Read-only root filesystem: the only writable place is an emptyDir at /tmp (the pod's own).
TMP = "/tmp"  # noqa: S108
TMP_VOLUME = k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit="2Gi"))
TMP_MOUNT = k8s.V1VolumeMount(name="tmp", mount_path=TMP)

POD_SECURITY_CONTEXT = k8s.V1PodSecurityContext(
    run_as_non_root=True,
    run_as_user=RUN_AS_USER,
    run_as_group=RUN_AS_USER,
    fs_group=RUN_AS_USER,
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)
CONTAINER_SECURITY_CONTEXT = k8s.V1SecurityContext(
    run_as_non_root=True,
    run_as_user=RUN_AS_USER,
    read_only_root_filesystem=True,
    allow_privilege_escalation=False,
    capabilities=k8s.V1Capabilities(drop=["ALL"]),
    seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
)

# Sized on the sample data with headroom; limits keep a runaway step from starving the node.
PIPELINE_RESOURCES = k8s.V1ResourceRequirements(
    requests={"cpu": "100m", "memory": "256Mi"}, limits={"cpu": "1", "memory": "1Gi"}
)
DBT_RESOURCES = k8s.V1ResourceRequirements(
    requests={"cpu": "250m", "memory": "512Mi"}, limits={"cpu": "2", "memory": "1536Mi"}
)

# Not secrets: where tools may write on a read-only filesystem, and the log format for Loki & co.
PIPELINE_ENV = {
    "LOG_FORMAT": "json",
    "DATA_DIR": f"{TMP}/starlink42k",
    "HOME": TMP,
    "MPLCONFIGDIR": f"{TMP}/matplotlib",
}
# Where dbt writes in a pod (the project in the image is read-only).
DBT_TARGET = f"{TMP}/dbt/target"
DBT_ENV = {
    "DBT_TARGET_PATH": DBT_TARGET,
    "DBT_LOG_PATH": f"{TMP}/dbt/logs",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "HOME": TMP,
    # dbt's sessions wait for a lock at most LOCK_WAIT_SECONDS, and the server ends those of a pod
    # killed mid-statement within 2 s: the pipeline's warehouse.dbt_pgoptions(), as the CLI gives its
    # dbt (tests/airflow/test_airflow_pods.py checks that the two agree).
    "PGOPTIONS": "-c lock_timeout=600000ms -c client_connection_check_interval=2000ms",
}

# --- the Secrets the pods read (charts/starlink-platform/templates/secrets.yaml) -----------------
# Names of Kubernetes Secret objects, not secret values.
WAREHOUSE_SECRET = "warehouse-credentials"  # noqa: S105
LAKE_SECRET = "lake-credentials"  # noqa: S105
# The warehouse: the CLI reads one URL; dbt's profiles.yml reads the parts with env_var().
WAREHOUSE_URL = Secret("env", "WAREHOUSE_URL", WAREHOUSE_SECRET, "url")
WAREHOUSE_HOST = Secret("env", "WAREHOUSE_HOST", WAREHOUSE_SECRET, "host")
WAREHOUSE_PORT = Secret("env", "WAREHOUSE_PORT", WAREHOUSE_SECRET, "port")
WAREHOUSE_USER = Secret("env", "WAREHOUSE_USER", WAREHOUSE_SECRET, "user")
WAREHOUSE_PASSWORD = Secret("env", "WAREHOUSE_PASSWORD", WAREHOUSE_SECRET, "password")
WAREHOUSE_DB = Secret("env", "WAREHOUSE_DB", WAREHOUSE_SECRET, "dbname")
# The lake (MinIO, S3 API).
LAKE_URL = Secret("env", "LAKE_URL", LAKE_SECRET, "lake-url")
S3_ENDPOINT_URL = Secret("env", "S3_ENDPOINT_URL", LAKE_SECRET, "endpoint-url")
AWS_ACCESS_KEY_ID = Secret("env", "AWS_ACCESS_KEY_ID", LAKE_SECRET, "access-key-id")
AWS_SECRET_ACCESS_KEY = Secret("env", "AWS_SECRET_ACCESS_KEY", LAKE_SECRET, "secret-access-key")
AWS_DEFAULT_REGION = Secret("env", "AWS_DEFAULT_REGION", LAKE_SECRET, "region")
# What each kind of container gets: the CLI steps the lake and the warehouse URL; dbt the warehouse
# only, as the variables dbt/profiles.yml names.
LAKE = [LAKE_URL, S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION]
CLI_SECRETS = [*LAKE, WAREHOUSE_URL]
DBT_SECRETS = [WAREHOUSE_HOST, WAREHOUSE_PORT, WAREHOUSE_USER, WAREHOUSE_PASSWORD, WAREHOUSE_DB]


def env(values: dict[str, str]) -> list[k8s.V1EnvVar]:
    return [k8s.V1EnvVar(name=k, value=v) for k, v in values.items()]


def _pod(component: str, image: str, resources: k8s.V1ResourceRequirements) -> dict[str, Any]:
    return {
        "namespace": config.namespace(),
        "image": image,
        "image_pull_policy": "IfNotPresent",
        "service_account_name": SERVICE_ACCOUNT,
        # The pods never talk to the Kubernetes API.
        "automount_service_account_token": False,
        "labels": {**LABELS, "app.kubernetes.io/component": component},
        "security_context": POD_SECURITY_CONTEXT,
        "container_security_context": CONTAINER_SECURITY_CONTEXT,
        "volumes": [TMP_VOLUME],
        "volume_mounts": [TMP_MOUNT],
        "env_from": [SETTINGS],
        "container_resources": resources,
        # Pod logs stream into the task log (remote logging keeps them after the pod is gone).
        "get_logs": True,
        "log_events_on_failure": True,
        # A failure's message is the CLI's error line (its termination message), not the pod spec.
        "log_pod_spec_on_failure": False,
        "termination_message_policy": "FallbackToLogsOnError",
        # Failed pods stay for `kubectl describe`; a retry starts a new pod.
        "on_finish_action": "delete_succeeded_pod",
        # First start on a fresh kind node includes loading the image.
        "startup_timeout_seconds": 300,
        # Stopping the task (on_kill) deletes the pod: its SIGTERM makes the step cancel its statement
        # and stop dbt (SIGINT, then SIGKILL after 10 s: dbt_runner.DBT_STOP_SECONDS) well within this.
        "termination_grace_period": 30,
        # A restarted worker finds its running pod again instead of starting a second one
        # (Airflow 3.3's successor of reattach_on_restart).
        "durable": True,
    }


def pipeline_pod(component: str = "pipeline") -> dict[str, Any]:
    """Keyword arguments of a KubernetesPodOperator running the `starlink42k` CLI."""
    return {
        **_pod(component, pipeline_image(), PIPELINE_RESOURCES),
        "env_vars": env(PIPELINE_ENV),
        "secrets": CLI_SECRETS,
    }


def dbt_pod() -> dict[str, Any]:
    """Keyword arguments of a cosmos Kubernetes operator running dbt in the dbt image."""
    return {**_pod("dbt", dbt_image(), DBT_RESOURCES), "env_vars": env(DBT_ENV), "secrets": DBT_SECRETS}


def dbt_container(args: list[str]) -> k8s.V1Container:
    """dbt as an init container: the dbt image, the same restrictions, writing into the pod's /tmp."""
    return k8s.V1Container(
        name="dbt",
        image=dbt_image(),
        image_pull_policy="IfNotPresent",
        args=args,
        env=[*env(DBT_ENV), *(s.to_env_secret() for s in DBT_SECRETS)],
        env_from=[SETTINGS],
        resources=DBT_RESOURCES,
        security_context=CONTAINER_SECURITY_CONTEXT,
        volume_mounts=[TMP_MOUNT],
        termination_message_policy="FallbackToLogsOnError",
    )


# --- operators -----------------------------------------------------------------------------------


class CliPodOperator(Step, KubernetesPodOperator):
    """The CLI in a pod of the pipeline image (its ENTRYPOINT); its termination message, the CLI's
    error line, is the failure's reason."""

    def __init__(self, *, announces_answer: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.announces_answer = announces_answer

    def execute(self, context: Any) -> Any:
        try:
            result = super().execute(context)
        except Exception as exc:
            reason = self.remote_pod and get_container_termination_message(self.remote_pod, self.base_container_name)
            self.raise_failure(reason or "", exc)
        self.announce(context)
        return result


class DbtThenCliPodOperator(CliPodOperator):
    """The CLI pod, with a dbt command (dbt image) as its init container: the pipeline image has no
    dbt and the dbt image no lake client, so each does its half. `dbt_arguments` is templated (init
    containers are not), so the run's ds reaches dbt's --vars."""

    template_fields = (*KubernetesPodOperator.template_fields, "dbt_arguments")

    def __init__(self, *, dbt_arguments: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dbt_arguments = dbt_arguments

    def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> Any:
        self.init_containers = [dbt_container(list(self.dbt_arguments))]
        return super().build_pod_request_obj(context, dry_run=dry_run)


# The per-model trigger, by its import path in the triggerer (see the module docstring).
BUILD_WATCHER_TRIGGER = "starlink_triggers.DbtBuildWatcherTrigger"


class DbtBuildWatcherKubernetesOperator(DbtBuildMixin, DbtConsumerWatcherKubernetesSensor):
    """One dbt model's `dbt build` (the model, then its tests) inside the producer's `dbt build` pod,
    mirrored as one Airflow task: the class cosmos names for TestBehavior.BUILD in watcher mode but
    leaves unimplemented, with Airflow 3's start_from_trigger (astronomer-cosmos#2811).

    The scheduler defers the task straight to the triggerer (no worker pod), where
    DbtBuildWatcherTrigger (airflow/plugins/starlink_triggers.py) reads the producer's XComs and ends
    it there (`end_from_trigger`): success, or failed with dbt's error in the task's log, or
    skipped. A retry (automatic, or a clear in the UI) once the producer is over resumes on a
    worker and runs `dbt build --select <model>` in its own dbt pod (cosmos' fallback), so a model
    can be retried on its own.
    """

    template_fields = tuple(
        dict.fromkeys((*DbtConsumerWatcherKubernetesSensor.template_fields, *DbtBuildMixin.template_fields))
    )
    start_from_trigger = True

    def __init__(
        self, *, tests: list[str] | tuple[str, ...] = (), end_from_trigger: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        # Per instance (a class-level StartTriggerArgs would be shared, and mutated, by every task).
        self.start_trigger_args = StartTriggerArgs(
            trigger_cls=BUILD_WATCHER_TRIGGER,
            trigger_kwargs={
                "model_unique_id": self.model_unique_id,
                "producer_task_id": self.producer_task_id,
                "tests": list(tests),
                "poke_interval": float(self.poke_interval),
                "end_from_trigger": end_from_trigger,
            },
            next_method="execute_complete",
        )


def _model_builds(group_id: str, manifest: dict[str, Any]):
    """cosmos node converter (RenderConfig.node_converters): each model's task is our watcher."""
    tests: dict[str, list[str]] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                tests.setdefault(parent, []).append(uid)

    def convert(*, dag: Any, task_group: Any, node: Any, task_id: str, task_args: dict[str, Any], **_: Any) -> Any:
        return DbtBuildWatcherKubernetesOperator(
            task_id=task_id,
            dag=dag,
            task_group=task_group,
            extra_context={"dbt_node_config": node.context_dict, "package_name": node.package_name},
            select=f"fqn:{'.'.join(node.fqn)}",
            producer_task_id=f"{group_id}.{PRODUCER_WATCHER_TASK_ID}",
            tests=sorted(tests.get(node.unique_id, [])),
            # How often a waiting model looks at the producer's XComs, in the triggerer.
            poke_interval=2,
            **task_args,
        )

    return convert


# --- the steps -------------------------------------------------------------------------------------


def cli(task_id: str, arguments: list[str], lineage: dict[str, Any], *, announces_answer: bool = False) -> Any:
    """`starlink42k <arguments>` in a pod of the pipeline image (its ENTRYPOINT is the CLI)."""
    return CliPodOperator(
        task_id=task_id, arguments=arguments, announces_answer=announces_answer, **lineage, **pipeline_pod()
    )


def _dbt_then_cli(task_id: str, dbt: list[str], arguments: list[str], secrets: list[Secret], lineage: dict) -> Any:
    """A pod: dbt (dbt image, init container) writes into the pod's /tmp, then the CLI reads it."""
    return DbtThenCliPodOperator(
        task_id=task_id,
        dbt_arguments=dbt,
        arguments=arguments,
        init_container_logs=True,
        **lineage,
        **{
            **pipeline_pod(component=task_id.replace("_", "-")),
            "env_vars": env({**PIPELINE_ENV, "DBT_TARGET_PATH": DBT_TARGET}),
            "secrets": secrets,
        },
    )


def freshness_gate(task_id: str, arguments: list[str], sources: list[str], dbt_vars: dict, lineage: dict) -> Any:
    """`dbt source freshness` of the run's sources (init container) writes sources.json; the CLI
    judges it, keeps the verdict in the warehouse and fails on a source past its error threshold.
    dbt's exit 1 is a result (a stale source), which the CLI judges; anything else is dbt failing."""
    dbt = (
        f"dbt source freshness --project-dir {DBT_PROJECT_DIR} --vars {shlex.quote(json.dumps(dbt_vars))} "
        "--select " + " ".join(f"source:{s}" for s in sources) + '; status=$?; [ "$status" -le 1 ] || exit "$status"'
    )
    gate = [*arguments, "--from", f"{DBT_TARGET}/sources.json"]
    return _dbt_then_cli(task_id, ["bash", "-c", dbt], gate, CLI_SECRETS, lineage)


def dbt_docs(task_id: str, dbt_vars: dict, lineage: dict) -> Any:
    """`dbt docs generate` (init container), then `starlink42k publish-docs` uploads it to the lake
    (the lake's Secrets only). Not cosmos' DbtDocsS3KubernetesOperator: it needs the AWS CLI in the
    dbt image, copies the Airflow connection's keys into the pod spec as literal values, uploads from
    <project>/target (read-only here) and joins --vars into a shell command unquoted."""
    dbt = ["dbt", "docs", "generate", "--vars", json.dumps(dbt_vars), "--project-dir", DBT_PROJECT_DIR]
    return _dbt_then_cli(task_id, dbt, ["publish-docs", "--from", DBT_TARGET], LAKE, lineage)


def dbt_group(group_id: str, project: ProjectConfig, dbt_vars: dict, lineage: dict) -> DbtTaskGroup:
    """cosmos' watcher mode: one pod runs the whole `dbt build` (dbt orders models and tests itself,
    4 threads, a failing test skips what depends on it) and one task per model mirrors that model's
    build, run and tests, in the triggerer (DbtBuildWatcherKubernetesOperator). One task per model
    rather than cosmos' run and test tasks per model: half the tasks, and half the hops of the
    chain the scheduler and triggerer walk after the pod (tests/benchmarks/dag_cost.py). The
    group's lineage is the producer's: it alone reads the loaded tables and writes the marts (an
    EmptyOperator with assets, cosmos' `..._done` gate, would take a worker pod to run)."""
    build_resources = {DbtResourceType.MODEL, DbtResourceType.SEED, DbtResourceType.SNAPSHOT}
    convert = _model_builds(group_id, config.manifest())
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER_KUBERNETES, dbt_project_path=DBT_PROJECT_DIR
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            # dbt orders a test of several models after all of them itself; each model's task waits
            # for the tests it is part of.
            should_detach_multiple_parents_tests=False,
            node_converters=dict.fromkeys(build_resources, convert),
            emit_datasets=False,
        ),
        operator_args={**dbt_pod(), "vars": dbt_vars},
    )
    producer = group.children[f"{group_id}.{PRODUCER_WATCHER_TASK_ID}"]
    producer.inlets, producer.outlets = lineage["inlets"], lineage["outlets"]
    return group
