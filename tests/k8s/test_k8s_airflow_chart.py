"""The official Airflow chart, at the version k8s/cluster.mk pins, rendered with our values and the
exact `--set` flags `make cluster-up` passes, for the Kubernetes version of the kind node: what
passes here is what `helm upgrade --install` accepts.

The chart comes from AIRFLOW_CHART_DIR, else `make airflow-chart`'s pull (.charts/airflow), else the
reference copy beside the project (../shared/reference/airflow-chart); its Chart.yaml version must
be the pinned one. With none of them the tests fail (never skip): CI must check the real contract.
Every rendered object is validated against the Kubernetes schemas; then the contracts that matter,
as jmespath queries:
- worker pods get the DAGs through git-sync and run as the ServiceAccount our RBAC binds;
- the API server's NodePort is the one kind-config.yaml publishes;
- the fernet, JWT and API secret keys come from our Secrets, and those exist;
- remote logging goes to MinIO through the lake connection our chart writes;
- no chart hook would fail (no `airflow users create`, which the simple auth manager lacks).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import jmespath
import kubernetes_validate
import pytest
import yaml
from k8s_helpers import (
    AIRFLOW_NAMESPACE,
    K8S,
    KIND_CONFIG,
    ROOT,
    airflow_chart_dir,
    cluster_mk_airflow_set,
    make_var_default,
    render_airflow_chart,
    run_helm,
)

RELEASE = "airflow"
TAG = "feedc0ffee42"
GIT = {"GIT_REPO": "https://github.com/example/starlink42k.git", "GIT_BRANCH": "main"}


def cluster_mk_set_flags() -> list[str]:
    """AIRFLOW_SET as k8s/cluster.mk computes it (through the top-level Makefile)."""
    return cluster_mk_airflow_set(**GIT, IMAGE_TAG=TAG)


@pytest.fixture(scope="module")
def chart() -> Path:
    path = airflow_chart_dir()
    version = yaml.safe_load((path / "Chart.yaml").read_text())["version"]
    assert version == make_var_default("AIRFLOW_CHART_VERSION"), f"{path} is chart {version}, cluster.mk pins another"
    return path


@pytest.fixture(scope="module")
def rendered(helm_bin: Path, chart: Path, kube_version: str) -> list[dict[str, Any]]:
    flags = cluster_mk_set_flags()
    assert f"images.airflow.tag={TAG}" in flags and "dags.gitSync.repo=" + GIT["GIT_REPO"] in flags
    return render_airflow_chart(helm_bin, chart, flags, release=RELEASE)


def objects_of(rendered: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in rendered if o["kind"] == kind}


def pod_specs(rendered: list[dict]) -> Iterator[tuple[str, dict]]:
    """Every pod the release runs: its workloads' templates, hook Jobs and the workers' pod template."""
    for obj in rendered:
        spec = jmespath.search("spec.template.spec", obj)
        if spec:
            yield f"{obj['kind']}/{obj['metadata']['name']}", spec
    yield "worker pod template", worker_pod(rendered)["spec"]


def worker_pod(rendered: list[dict]) -> dict:
    config = objects_of(rendered, "ConfigMap")[f"{RELEASE}-config"]
    return yaml.safe_load(config["data"]["pod_template_file.yaml"])


def airflow_component(where: str) -> bool:
    """A Deployment running Airflow itself, or the workers' pod template (not the statsd exporter)."""
    return where.startswith(("Deployment", "worker")) and where != f"Deployment/{RELEASE}-statsd"


def airflow_cfg(rendered: list[dict]) -> ConfigParser:
    parser = ConfigParser(interpolation=None)
    parser.read_string(objects_of(rendered, "ConfigMap")[f"{RELEASE}-config"]["data"]["airflow.cfg"])
    return parser


def env_refs(spec: dict) -> dict[str, tuple[str, str]]:
    """name -> (Secret, key) of the main containers' secretKeyRef variables."""
    found = jmespath.search("containers[].env[?valueFrom.secretKeyRef][]", spec) or []
    return {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"]) for e in found}


def test_every_rendered_object_is_valid_kubernetes(rendered: list[dict], kube_version: str) -> None:
    assert {"Deployment", "Service", "ConfigMap", "Job", "RoleBinding"} <= {o["kind"] for o in rendered}
    for obj in rendered:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    worker = worker_pod(rendered)
    kubernetes_validate.validate(worker, kube_version, strict=True)


def test_every_airflow_container_runs_our_image_of_this_build(rendered: list[dict]) -> None:
    for where, spec in pod_specs(rendered):
        for container in jmespath.search("[containers, initContainers][][]", spec) or []:
            if container["image"].startswith("starlink42k/"):
                assert container["image"] == f"starlink42k/airflow:{TAG}", (where, container["name"])
                assert container.get("imagePullPolicy") == "IfNotPresent", (where, container["name"])
    images = {c["image"] for _, s in pod_specs(rendered) for c in jmespath.search("[containers][][]", s)}
    assert f"starlink42k/airflow:{TAG}" in images and not [i for i in images if i.endswith(":latest")]


def test_workers_get_the_dags_by_git_sync_and_run_as_the_account_our_rbac_binds(
    rendered: list[dict], objects: list[dict]
) -> None:
    pod = worker_pod(rendered)["spec"]
    (sync,) = [c for c in pod["initContainers"] if "git-sync" in c["name"]]
    sync_env = {e["name"]: e.get("value") for e in sync["env"]}
    assert sync_env["GITSYNC_REPO"] == GIT["GIT_REPO"] and sync_env["GITSYNC_REF"] == GIT["GIT_BRANCH"]
    assert jmespath.search("containers[0].volumeMounts[?name=='dags'] | [0].mountPath", pod)
    account = pod["serviceAccountName"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    bound = {(s["namespace"], s["name"]) for b in bindings for s in b["subjects"]}
    assert (AIRFLOW_NAMESPACE, account) in bound
    config = airflow_cfg(rendered)
    assert config["core"]["dags_folder"].endswith("/" + make_var_default("GIT_SUBPATH"))


def test_the_api_servers_nodeport_is_the_one_kind_publishes(rendered: list[dict]) -> None:
    service = objects_of(rendered, "Service")[f"{RELEASE}-api-server"]
    (mapping,) = yaml.safe_load(KIND_CONFIG.read_text())["nodes"][0]["extraPortMappings"]
    assert service["spec"]["type"] == "NodePort"
    assert jmespath.search("spec.ports[0].nodePort", service) == mapping["containerPort"]
    assert str(mapping["hostPort"]) == make_var_default("AIRFLOW_UI_PORT")


def test_static_keys_come_from_our_secrets(rendered: list[dict], objects: list[dict]) -> None:
    ours = {(o["metadata"]["name"], key) for o in objects if o["kind"] == "Secret" for key in o["data"]}
    wanted = {
        "AIRFLOW__CORE__FERNET_KEY": ("airflow-fernet-key", "fernet-key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": ("airflow-jwt-secret", "jwt-secret"),
        "AIRFLOW__API__SECRET_KEY": ("airflow-api-secret-key", "api-secret-key"),
    }
    deployments = objects_of(rendered, "Deployment")
    for component in ("scheduler", "api-server", "dag-processor", "triggerer"):
        refs = env_refs(deployments[f"{RELEASE}-{component}"]["spec"]["template"]["spec"])
        for name, ref in wanted.items():
            if name in refs:
                assert refs[name] == ref, (component, name)
        assert refs["AIRFLOW__CORE__FERNET_KEY"] == wanted["AIRFLOW__CORE__FERNET_KEY"], component
    api = env_refs(deployments[f"{RELEASE}-api-server"]["spec"]["template"]["spec"])
    assert {n: api[n] for n in wanted} == wanted  # the API server signs tokens with all three
    assert set(wanted.values()) <= ours


def test_remote_logs_go_to_minio_through_our_lake_connection(rendered: list[dict], objects: list[dict]) -> None:
    logging = airflow_cfg(rendered)["logging"]
    assert logging["remote_logging"] == "True"
    assert logging["remote_base_log_folder"] == "s3://airflow-logs/logs"
    assert logging["remote_log_conn_id"] == "lake_s3"
    bucket = yaml.safe_load((ROOT / "charts/starlink-platform/values.yaml").read_text())["minio"]["buckets"]["logs"]
    assert logging["remote_base_log_folder"].startswith(f"s3://{bucket}/")
    for where, spec in pod_specs(rendered):
        if airflow_component(where):
            assert env_refs(spec).get("AIRFLOW_CONN_LAKE_S3") == ("airflow-lake-connection", "connection"), where
    (connection,) = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "airflow-lake-connection"]
    extra = json.loads(base64.b64decode(connection["data"]["connection"]))["extra"]
    assert re.fullmatch(r"http://starlink-minio\.starlink\.svc\.cluster\.local:9000", extra["endpoint_url"])


def test_every_component_reads_the_pipeline_settings(rendered: list[dict]) -> None:
    for where, spec in pod_specs(rendered):
        if airflow_component(where):
            env_from = jmespath.search("containers[0].envFrom", spec)
            assert {"configMapRef": {"name": "pipeline-settings"}} in env_from, where
            plain = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
            assert plain["STARLINK_EXECUTION"] == "kubernetes", where


def test_no_hook_would_fail(rendered: list[dict]) -> None:
    hooks = [o for o in rendered if "helm.sh/hook" in o["metadata"].get("annotations", {})]
    assert hooks
    commands = [
        " ".join([*(c.get("command") or []), *(c.get("args") or [])])
        for o in hooks
        for c in jmespath.search("spec.template.spec.containers", o) or []
    ]
    assert not [c for c in commands if "users create" in c], "the simple auth manager has no `airflow users create`"
    jobs = {o["metadata"]["name"] for o in hooks if o["kind"] == "Job"}
    assert jobs == {f"{RELEASE}-run-airflow-migrations"}
    auth = airflow_cfg(rendered)["core"]["auth_manager"]
    assert auth.endswith("SimpleAuthManager")


def test_every_container_is_hardened(rendered: list[dict]) -> None:
    """securityContexts.containers (the chart's documented key) reaches every container."""
    for where, spec in pod_specs(rendered):
        if "postgresql" in where:  # the bitnami subchart: Airflow's metadata database, its own settings
            continue
        assert jmespath.search("securityContext.runAsNonRoot", spec) is True, where
        for container in jmespath.search("[containers, initContainers][][]", spec) or []:
            context = container.get("securityContext") or {}
            assert context.get("allowPrivilegeEscalation") is False, (where, container["name"])
            assert context.get("capabilities", {}).get("drop") == ["ALL"], (where, container["name"])


def notes_warnings(helm: Path, chart: Path, *args: str) -> set[str]:
    """The chart's DEPRECATION WARNINGs of `helm install --dry-run=client` (its NOTES; no cluster)."""
    out = run_helm(helm, "install", RELEASE, str(chart), "--namespace", AIRFLOW_NAMESPACE, "--dry-run=client", *args)
    notes = out.stdout.split("\nNOTES:\n", 1)[1]
    return set(re.findall(r"DEPRECATION WARNING:\s*\n\s*(.+)", notes))


def test_our_values_add_no_deprecation_warning(helm_bin: Path, chart: Path, rendered: list[dict]) -> None:
    """`workers.resources` warned in 1.22 (renamed to workers.kubernetes.resources); the chart's own
    defaults warn about a few keys of theirs, ours must add none."""
    defaults = notes_warnings(helm_bin, chart)
    ours = notes_warnings(helm_bin, chart, "-f", str(K8S / "airflow-values.yaml"), *cluster_mk_set_flags())
    assert ours - defaults == set()
    base = jmespath.search("containers[?name=='base'] | [0]", worker_pod(rendered)["spec"])
    assert base["resources"]["requests"] == {"cpu": "100m", "memory": "384Mi"}


def test_what_airflow_pods_need_from_our_chart_survives_its_uninstall(
    rendered: list[dict], objects: list[dict]
) -> None:
    """Every Secret and ConfigMap an Airflow pod must have to start (not `optional`) that the platform
    chart writes carries helm.sh/resource-policy: keep: `helm uninstall starlink` leaves it, and the
    Airflow pods still start (pipeline-settings was deleted before: every pod mounts it)."""
    ours = {
        (o["kind"], o["metadata"]["name"]): o for o in objects if o["metadata"].get("namespace") == AIRFLOW_NAMESPACE
    }
    needed = set()
    for _, spec in pod_specs(rendered):
        for container in jmespath.search("[containers, initContainers][][]", spec) or []:
            for env in container.get("env") or []:
                for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = (env.get("valueFrom") or {}).get(key)
                    if ref and not ref.get("optional"):
                        needed.add((kind, ref["name"]))
            for source in container.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in source and not source[key].get("optional"):
                        needed.add((kind, source[key]["name"]))
        for volume in spec.get("volumes") or []:
            if "secret" in volume and not volume["secret"].get("optional"):
                needed.add(("Secret", volume["secret"]["secretName"]))
    from_us = needed & set(ours)
    assert ("ConfigMap", "pipeline-settings") in from_us and ("Secret", "airflow-metadata") in from_us, from_us
    for key in from_us:
        assert ours[key]["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep", key


def test_the_metadata_database_is_ours_on_the_official_postgres_image(
    rendered: list[dict], objects: list[dict]
) -> None:
    """No bundled bitnami PostgreSQL (a frozen image): every Airflow component and the migrations Job
    read the connection from Secret airflow-metadata, which the platform chart writes, pointing at
    the warehouse's server (the official postgres image) with a database and role of Airflow's own."""
    images = {
        c["image"]
        for _, spec in pod_specs(rendered)
        for c in jmespath.search("[containers, initContainers][][]", spec) or []
    }
    assert not [i for i in images if "bitnami" in i or "postgres" in i], images
    assert not [o for o in rendered if o["kind"] == "StatefulSet"]
    for where, spec in pod_specs(rendered):
        if (airflow_component(where) and where != "worker pod template") or where.startswith("Job/"):
            refs = env_refs(spec)
            assert refs.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") == ("airflow-metadata", "connection"), where
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "airflow-metadata")
    url = base64.b64decode(secret["data"]["connection"]).decode()
    assert re.fullmatch(
        r"postgresql://airflow:[^@]+@starlink-warehouse\.starlink\.svc\.cluster\.local:5432/airflow\?sslmode=disable",
        url,
    )
    warehouse = next(o for o in objects if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "starlink-warehouse")
    assert warehouse["spec"]["template"]["spec"]["containers"][0]["image"].startswith("postgres:")
