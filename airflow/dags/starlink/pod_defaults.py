"""What every pipeline pod has in common, in one place: namespace, pinned images, resources, the
security context Pod Security "restricted" demands, the ServiceAccount and the labels the
NetworkPolicies select, logging and cleanup. A step is then `KubernetesPodOperator(**pipeline_pod(),
arguments=[...])` and the DAG file never mentions Kubernetes plumbing.

Contracts with other parts of the repository:
- images: `starlink42k/<name>:<tag>`, the tag the Airflow image was built with (STARLINK_IMAGE_TAG,
  images/tag.sh), built by `make images` and `kind load`ed, hence IfNotPresent (never the `latest`
  tag, which makes Kubernetes pull Always);
- images/*/Dockerfile: uid RUN_AS_USER (10001), nothing written outside /tmp;
- the pipeline image: ENTRYPOINT `starlink42k`, the CLI (every step, and the docs upload);
- the dbt image: project at /opt/dbt, DBT_PROFILES_DIR set, no ENTRYPOINT (cosmos passes the
  whole `dbt ...` command as the container's arguments);
- namespace, ServiceAccount, labels and the settings ConfigMap: charts/starlink-platform.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import models as k8s

from . import config, kube_secrets


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
}


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
        # A restarted worker finds its running pod again instead of starting a second one
        # (Airflow 3.3's successor of reattach_on_restart).
        "durable": True,
    }


def env(values: dict[str, str]) -> list[k8s.V1EnvVar]:
    return [k8s.V1EnvVar(name=k, value=v) for k, v in values.items()]


def container(
    name: str,
    image: str,
    resources: k8s.V1ResourceRequirements,
    values: dict[str, str],
    secrets: list[Any],
    args: list[str],
) -> k8s.V1Container:
    """An extra container (e.g. an init container) with the same security context, /tmp and env."""
    return k8s.V1Container(
        name=name,
        image=image,
        image_pull_policy="IfNotPresent",
        args=args,
        env=[*env(values), *(s.to_env_secret() for s in secrets)],
        env_from=[SETTINGS],
        resources=resources,
        security_context=CONTAINER_SECURITY_CONTEXT,
        volume_mounts=[TMP_MOUNT],
        termination_message_policy="FallbackToLogsOnError",
    )


def pipeline_pod() -> dict[str, Any]:
    """Keyword arguments of a KubernetesPodOperator running the `starlink42k` CLI."""
    return {
        **_pod("pipeline", pipeline_image(), PIPELINE_RESOURCES),
        "env_vars": env(PIPELINE_ENV),
        "secrets": list(kube_secrets.CLI),
    }


def dbt_pod() -> dict[str, Any]:
    """Keyword arguments of a cosmos Kubernetes operator running dbt in the dbt image."""
    return {
        **_pod("dbt", dbt_image(), DBT_RESOURCES),
        "env_vars": env(DBT_ENV),
        "secrets": list(kube_secrets.DBT),
    }
