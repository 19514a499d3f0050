"""The Airflow components exactly as the official chart defines them, run as containers of our image.

The official Airflow chart (the pinned version, tests/k8s/k8s_helpers.airflow_chart_dir) is rendered
with k8s/airflow-values.yaml and the `--set` flags `make cluster-up` passes; our chart
(charts/starlink-platform) is rendered for the Secrets and the ConfigMap those pods read. Then, as
the kubelet would, each pod's containers become `docker run` of our image with the container's
command, arguments and environment (envFrom and env, every secretKeyRef / configMapKeyRef resolved
from the rendered objects; a missing optional one is left out, a missing required one fails as the
pod would), its user and group (runAsUser/runAsGroup/fsGroup), its security context
(allowPrivilegeEscalation, capabilities, readOnlyRootFilesystem, privileged), its memory and CPU
limits, and its volumes (the config ConfigMap's airflow.cfg, airflow_local_settings.py and pod
template by subPath, read-only; emptyDirs shared by the pod's containers). In the chart's order: the
migration Job (`airflow db migrate`), then the API server, scheduler, DAG processor and triggerer,
each after its init container `airflow db check-migrations`, with the log-groomer sidecars. Each is
then checked with the chart's own probe: the API server's httpGet on /api/v2/monitor/health, and
for the others the exact exec command the chart renders, run with `docker exec`.

What stands in for the cluster, and nothing else:
- PostgreSQL on loopback (pgserver's binaries) instead of the chart's PostgreSQL subchart: the
  rendered metadata Secret's connection gets this server's host, port, database and login
  (a throwaway password); its scheme and query are the chart's.
- `--network host`; cluster DNS names of the release's Services resolve to 127.0.0.1 (--add-host).
  Two ports are moved to free ones because the host is shared: the API server's (AIRFLOW__API__PORT;
  its probe is sent there) and the triggerer's log server (trigger_log_server_port).
- git-sync: the DAGs are copied from this working tree to where git-sync links them
  (<dags mount>/<GITSYNC_LINK>/<subPath>, which must be the rendered dags_folder); the git-sync
  containers themselves (another image) are not run.
- The Kubernetes API: the KubernetesExecutor will not start without one (it loads the in-cluster
  config), so a minimal stand-in on loopback answers it (KubeApiStandIn, with the service account
  token folder and KUBERNETES_SERVICE_HOST/PORT the kubelet gives a pod). No task runs, so it only
  sees the executor's reads; test_the_kubernetes_executor_only_reads_its_worker_pods checks each.
Any failure prints the logs of the containers involved.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml
from images_helpers import IMAGE_TAG, IMAGE_TESTS, NOT_REQUESTED, ROOT, Docker, TcpPostgres, free_port

if not IMAGE_TESTS:
    pytest.skip(NOT_REQUESTED, allow_module_level=True)

sys.path.insert(0, str(ROOT / "tests" / "k8s"))
from k8s_helpers import (
    AIRFLOW_NAMESPACE,
    CHART,
    NAMESPACE,
    airflow_chart_dir,
    cluster_mk_airflow_set,
    extract_helm,
    render_airflow_chart,
    run_helm,
)

RELEASE = "airflow"
DAG_ID = "starlink_pipeline"
DOCS_PLUGIN = "starlink_docs_auth"
# workload kind and name, main container: the migration Job, then the four long-running components.
MIGRATE = ("Job", f"{RELEASE}-run-airflow-migrations", "run-airflow-migrations")
COMPONENTS = {
    "api-server": (f"{RELEASE}-api-server", "api-server"),
    "scheduler": (f"{RELEASE}-scheduler", "scheduler"),
    "dag-processor": (f"{RELEASE}-dag-processor", "dag-processor"),
    "triggerer": (f"{RELEASE}-triggerer", "triggerer"),
}
GIT_SYNC_IMAGE = "git-sync"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
PROBE_GRACE_S = 40.0
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PODS_PATH = f"/api/v1/namespaces/{AIRFLOW_NAMESPACE}/pods"
# The discovery documents the kubernetes client's DynamicClient reads first (the executor lists
# pods through it), as an API server of the kind node's version answers them (pods only).
DISCOVERY: dict[str, dict] = {
    "/version": {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "pods",
                "singularName": "pod",
                "namespaced": True,
                "kind": "Pod",
                "verbs": ["create", "delete", "get", "list", "patch", "watch"],
                "shortNames": ["po"],
            }
        ],
    },
}


# --- what the cluster holds: the rendered objects ------------------------------------------------


@dataclass
class Cluster:
    """The rendered workloads, Secrets and ConfigMaps of namespace `airflow` (decoded)."""

    workloads: dict[tuple[str, str], dict]
    secrets: dict[str, dict[str, str]]
    config_maps: dict[str, dict[str, str]]
    services: list[str]
    # ServiceAccount -> automountServiceAccountToken
    accounts: dict[str, bool]

    def pod(self, kind: str, name: str) -> dict:
        workload = self.workloads.get((kind, name))
        assert workload, f"the chart renders no {kind}/{name}: {sorted(self.workloads)}"
        return workload["spec"]["template"]["spec"]

    def component_pod(self, name: str) -> dict:
        kinds = [kind for kind in ("Deployment", "StatefulSet") if (kind, name) in self.workloads]
        assert len(kinds) == 1, f"expected one Deployment or StatefulSet {name}, found {kinds}"
        return self.pod(kinds[0], name)


def rendered_cluster(scratch: Path, postgres_url: str) -> Cluster:
    helm = extract_helm(scratch / "helm")
    flags = cluster_mk_airflow_set(
        GIT_REPO="https://example.invalid/starlink42k.git", GIT_BRANCH="main", IMAGE_TAG=IMAGE_TAG
    )
    airflow = render_airflow_chart(helm, airflow_chart_dir(), flags, release=RELEASE)
    platform_out = run_helm(helm, "template", "starlink", str(CHART), "--namespace", NAMESPACE).stdout
    platform = [doc for doc in yaml.safe_load_all(platform_out) if doc]
    ours = [o for o in platform if o["metadata"].get("namespace") == AIRFLOW_NAMESPACE]
    objects = [*airflow, *ours]
    cluster = Cluster(
        workloads={(o["kind"], o["metadata"]["name"]): o for o in airflow if o["kind"] in WORKLOAD_KINDS},
        secrets={
            o["metadata"]["name"]: {
                **{k: base64.b64decode(v).decode() for k, v in (o.get("data") or {}).items()},
                **(o.get("stringData") or {}),
            }
            for o in objects
            if o["kind"] == "Secret"
        },
        config_maps={o["metadata"]["name"]: dict(o.get("data") or {}) for o in objects if o["kind"] == "ConfigMap"},
        services=[o["metadata"]["name"] for o in airflow if o["kind"] == "Service"],
        accounts={
            o["metadata"]["name"]: o.get("automountServiceAccountToken", True)
            for o in airflow
            if o["kind"] == "ServiceAccount"
        },
    )  # fmt: skip
    # The chart's metadata connection, pointed at the loopback server (scheme and query kept).
    chart_url = urlsplit(cluster.secrets[f"{RELEASE}-metadata"]["connection"])
    ours_url = urlsplit(postgres_url)
    cluster.secrets[f"{RELEASE}-metadata"]["connection"] = urlunsplit(
        (chart_url.scheme, ours_url.netloc, ours_url.path, chart_url.query, "")
    )
    return cluster


# --- a pod's container as `docker run` -----------------------------------------------------------


def container_env(container: dict, cluster: Cluster) -> dict[str, str]:
    """envFrom, then env (later wins, as in Kubernetes), with every reference resolved."""

    def lookup(store: dict[str, dict[str, str]], what: str, ref: dict, key: str | None) -> str | dict | None:
        data = store.get(ref["name"])
        value = data if key is None or data is None else data.get(key)
        if value is None and not ref.get("optional"):
            pytest.fail(f"the pod would not start: {what} {ref['name']}{'/' + key if key else ''} does not exist")
        return value

    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            data = lookup(cluster.config_maps, "ConfigMap", source["configMapRef"], None)
        else:
            data = lookup(cluster.secrets, "Secret", source["secretRef"], None)
        env.update({source.get("prefix", "") + k: v for k, v in (data or {}).items()})
    for var in container.get("env") or []:
        if "valueFrom" not in var:
            env[var["name"]] = var.get("value", "")
            continue
        ref = var["valueFrom"]
        if "secretKeyRef" in ref:
            value = lookup(cluster.secrets, "Secret", ref["secretKeyRef"], ref["secretKeyRef"]["key"])
        elif "configMapKeyRef" in ref:
            value = lookup(cluster.config_maps, "ConfigMap", ref["configMapKeyRef"], ref["configMapKeyRef"]["key"])
        else:
            pytest.fail(f"{var['name']}: unsupported valueFrom {ref} (fieldRef needs a real pod)")
        if value is not None:
            env[var["name"]] = value
    assert not [v for v in env.values() if "$(" in v], "dependent env values $(VAR) are not expected"
    return env


def _memory(quantity: str) -> str:
    for suffix, unit in (("Gi", "g"), ("Mi", "m"), ("Ki", "k")):
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    return quantity


def _cpus(quantity: str) -> str:
    return str(int(quantity[:-1]) / 1000) if quantity.endswith("m") else quantity


def security_options(pod: dict, container: dict) -> list[str]:
    """The pod's and the container's securityContext as docker run options."""
    pod_sc, sc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    uid, gid = sc.get("runAsUser", pod_sc.get("runAsUser")), sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
        assert uid not in (None, 0), f"{container['name']}: runAsNonRoot needs a non-zero runAsUser here"
    assert not sc.get("privileged"), f"{container['name']} is privileged"
    options = [] if uid is None else ["--user", f"{uid}:{0 if gid is None else gid}"]
    for group in [pod_sc.get("fsGroup"), *(pod_sc.get("supplementalGroups") or [])]:
        if group is not None:
            options += ["--group-add", str(group)]
    if sc.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    for cap in (sc.get("capabilities") or {}).get("drop") or []:
        options += ["--cap-drop", cap]
    for cap in (sc.get("capabilities") or {}).get("add") or []:
        options += ["--cap-add", cap]
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    assert seccomp == "RuntimeDefault", f"{container['name']}: seccomp {seccomp} (docker's default is RuntimeDefault)"
    return options


@dataclass
class Pod:
    """One pod of the release on this host: its volumes as folders, its containers as docker runs."""

    docker: Docker
    cluster: Cluster
    spec: dict
    label: str
    root: Path
    run_id: str
    extra_env: dict[str, str] = field(default_factory=dict)
    kube: KubeApiStandIn | None = None
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for volume in self.spec.get("volumes") or []:
            path = self.root / volume["name"]
            path.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume or "secret" in volume:
                source = volume.get("configMap") or volume.get("secret")
                store = self.cluster.config_maps if "configMap" in volume else self.cluster.secrets
                name = source.get("name") or source.get("secretName")
                for key, value in store[name].items():
                    (path / key).write_text(value)
                    (path / key).chmod(0o644)
                path.chmod(0o755)
            elif "emptyDir" in volume:
                path.chmod(0o1777)  # group 0 can write an emptyDir with fsGroup 0; any uid may here
            else:
                pytest.fail(f"{self.label}: volume {volume['name']} is of a kind this test does not provide: {volume}")

    def volume_path(self, name: str) -> Path:
        return self.root / name

    def run_args(self, container: dict, name: str) -> tuple[list[str], dict[str, str]]:
        """`docker run` arguments (after `run`) and the environment that carries the values."""
        args = ["--name", name, "--label", f"starlink42k-test={self.run_id}", "--network", "host"]
        args += [f"--add-host={host}:127.0.0.1" for host in self.hosts()]
        args += security_options(self.spec, container)
        limits = (container.get("resources") or {}).get("limits") or {}
        if "memory" in limits:
            args += ["--memory", _memory(limits["memory"])]
        if "cpu" in limits:
            args += ["--cpus", _cpus(limits["cpu"])]
        for mount in container.get("volumeMounts") or []:
            source = self.root / mount["name"] / mount.get("subPath", "")
            readonly = ",readonly" if mount.get("readOnly") or self.is_config(mount["name"]) else ""
            args += ["--mount", f"type=bind,src={source},dst={mount['mountPath']}{readonly}"]
        env = {**container_env(container, self.cluster), **self.extra_env}
        if self.kube is not None and self.automounts_token():
            # What the kubelet gives a pod whose service account token is mounted.
            env.update(self.kube.pod_env)
            args += ["--mount", f"type=bind,src={self.kube.account},dst={SERVICE_ACCOUNT_DIR},readonly"]
        # Values travel in the docker client's environment, not on its command line.
        args += [item for variable in env for item in ("--env", variable)]
        command = container.get("command") or []
        if command:
            args += ["--entrypoint", command[0]]
        args += [container["image"], *command[1:], *(container.get("args") or [])]
        return args, env

    def automounts_token(self) -> bool:
        account = self.spec.get("serviceAccountName", "default")
        return self.spec.get("automountServiceAccountToken", self.cluster.accounts.get(account, True))

    def is_config(self, volume: str) -> bool:
        kinds = {v["name"]: v for v in self.spec.get("volumes") or []}
        return "configMap" in kinds.get(volume, {}) or "secret" in kinds.get(volume, {})

    def hosts(self) -> list[str]:
        domain = f"{AIRFLOW_NAMESPACE}.svc.cluster.local"
        return [f"{s}{suffix}" for s in self.cluster.services for suffix in ("", f".{AIRFLOW_NAMESPACE}", f".{domain}")]

    def run(self, container: dict, detach: bool, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        name = f"sl42k-{self.run_id}-{self.label}-{container['name']}"
        args, env = self.run_args(container, name)
        self.names.append(name)
        command = [self.docker.binary, "run", *(["--detach"] if detach else []), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env})

    def airflow_containers(self, key: str) -> list[dict]:
        return [c for c in self.spec.get(key) or [] if GIT_SYNC_IMAGE not in c["image"]]


# --- helpers on running containers ---------------------------------------------------------------


def logs(docker: Docker, names: list[str], tail: int = 80) -> str:
    parts = []
    for name in names:
        out = subprocess.run([docker.binary, "logs", "--tail", str(tail), name], capture_output=True, text=True)
        parts.append(f"===== docker logs {name} (last {tail} lines)\n{out.stdout}{out.stderr}")
    return "\n".join(parts)


def running(docker: Docker, name: str) -> bool:
    out = subprocess.run(
        [docker.binary, "inspect", "--format", "{{.State.Running}}", name], capture_output=True, text=True
    )
    return out.stdout.strip() == "true"


def probe_budget(probe: dict) -> float:
    return probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)


def http_get(url: str, token: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Component:
    name: str
    pod: Pod
    container: str
    probe: str  # what was run
    started: float
    healthy_after: float | None = None
    last_probe: str = ""
    chart_budget: float = 0.0  # initialDelaySeconds + periodSeconds * failureThreshold of the probe
    slowest_probe: float = 0.0  # seconds, of the probe attempts until it passed


@dataclass
class Release:
    docker: Docker
    api_port: int
    migrate_seconds: float
    components: dict[str, Component]
    kube: KubeApiStandIn

    def api(self, path: str, token: str | None = None) -> tuple[int, Any]:
        status, body = http_get(f"http://127.0.0.1:{self.api_port}{path}", token)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def logs(self, *components: str) -> str:
        picked = [c for c in self.components.values() if not components or c.name in components]
        return logs(self.docker, [n for c in picked for n in c.pod.names])

    def exec(self, component: str, *command: str) -> subprocess.CompletedProcess[str]:
        name = _main(self.components[component])
        return subprocess.run([self.docker.binary, "exec", name, *command], capture_output=True, text=True, timeout=300)

    def main_container(self, component: str) -> str:
        return _main(self.components[component])


# --- the Kubernetes API the KubernetesExecutor asks at start ------------------------------------


@dataclass
class KubeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool

    @property
    def watch(self) -> bool:
        return [v.lower() for v in self.query.get("watch", [])] == ["true"]


class KubeApiStandIn:
    """A minimal stand-in for the cluster's API server, on 127.0.0.1 over TLS, with what the kubelet
    gives every pod to reach it: KUBERNETES_SERVICE_HOST/PORT and the service account folder (token,
    ca.crt, namespace). The scheduler cannot start without it: the KubernetesExecutor loads the
    in-cluster config at start ("Service host/port is not set" otherwise). It answers reads of pods
    with an empty list (a watch is held open, then ends with no event, as a quiet cluster's does) and
    refuses every write; each request is recorded for the test to check."""

    def __init__(self, folder: Path) -> None:
        import datetime
        import http.server
        import ipaddress
        import ssl
        import threading
        from urllib.parse import parse_qs

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver stand-in")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256())
        )
        self.account = folder / "serviceaccount"
        self.account.mkdir(parents=True)
        self.token = secrets.token_urlsafe(32)
        (self.account / "token").write_text(self.token)
        (self.account / "namespace").write_text(AIRFLOW_NAMESPACE)
        (self.account / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        for path in [self.account, *self.account.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.requests: list[KubeRequest] = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _record(self) -> KubeRequest:
                path, _, query = self.path.partition("?")
                # The in-cluster config of the kubernetes client sends "bearer <token>".
                authorization = self.headers.get("Authorization", "")
                authorized = authorization.lower() == f"bearer {stand_in.token}".lower() and authorization.endswith(
                    stand_in.token
                )
                request = KubeRequest(self.command, path, parse_qs(query), authorized)
                stand_in.requests.append(request)
                return request

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                request = self._record()
                if not request.authorized:
                    self._json(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401})
                elif request.watch:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    # A quiet cluster: no event until the watch times out (held at most 30 s here).
                    time.sleep(min(float(request.query.get("timeoutSeconds", ["30"])[0]), 30.0))
                    self.wfile.write(b"0\r\n\r\n")
                elif request.path in DISCOVERY:
                    self._json(200, DISCOVERY[request.path])
                elif request.path == PODS_PATH:
                    self._json(
                        200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
                    )
                else:
                    self._json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

            def _refuse(self) -> None:
                self._record()
                self._json(403, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403})

            do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.account / "ca.crt", folder / "key.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def pod_env(self) -> dict[str, str]:
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the run ---------------------------------------------------------------------------------------


def metadata_database(pg: TcpPostgres) -> str:
    """A database and login of its own for Airflow on the loopback server; its URL."""
    password = secrets.token_urlsafe(18)
    with pg.admin("postgres") as conn:
        conn.execute("drop database if exists airflow_meta")
        conn.execute("drop role if exists airflow_meta")
        conn.execute(f"create role airflow_meta login password '{password}'")
        conn.execute("create database airflow_meta owner airflow_meta")
    return f"postgresql://airflow_meta:{password}@127.0.0.1:{pg.port}/airflow_meta"


def place_dags_as_git_sync(pod: Pod, container: dict, config: str) -> None:
    """Copy airflow/dags where git-sync links the repository: <mount>/<GITSYNC_LINK>/<subPath>."""
    (mount,) = [m for m in container.get("volumeMounts") or [] if m["name"] == "dags"]
    sync = next(c for c in pod.spec["containers"] if GIT_SYNC_IMAGE in c["image"])
    sync_env = {e["name"]: e.get("value") for e in sync["env"]}
    (sync_mount,) = [m for m in sync["volumeMounts"] if m["name"] == "dags"]
    assert sync_env["GITSYNC_ROOT"] == sync_mount["mountPath"], "git-sync's root is the dags volume"
    subpath = "airflow/dags"
    dags_folder = f"{mount['mountPath']}/{sync_env['GITSYNC_LINK']}/{subpath}"
    assert f"dags_folder = {dags_folder}\n" in config, f"the rendered dags_folder is not where git-sync puts {subpath}"
    target = pod.volume_path("dags") / sync_env["GITSYNC_LINK"] / subpath
    shutil.copytree(ROOT / subpath, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    for parent in target.parents:
        if parent == pod.volume_path("dags"):
            break
        parent.chmod(0o755)


def _main(component: Component) -> str:
    return next(n for n in component.pod.names if n.endswith(f"-{component.container}"))


def probe_until_healthy(docker: Docker, component: Component, api_port: int) -> None:
    """Run the component's startup probe (else its liveness probe) until it passes, its budget is
    spent or the container has exited; sets healthy_after (seconds after start) when it passes."""
    (main,) = [c for c in component.pod.spec["containers"] if c["name"] == component.container]
    probe = main.get("startupProbe") or main.get("livenessProbe")
    component.chart_budget = probe_budget(probe)
    # The chart's timeoutSeconds (20 s for `airflow jobs check`) is exceeded on this shared machine
    # when it is busy (the probe starts an Airflow CLI inside the container's CPU limit): an attempt
    # may take PROBE_GRACE_S longer, and its duration is kept, so the report shows how slow it was.
    timeout = float(probe.get("timeoutSeconds", 1)) + PROBE_GRACE_S
    interval = min(float(probe.get("periodSeconds", 10)), 10.0)
    time.sleep(max(0.0, component.started + probe.get("initialDelaySeconds", 0) - time.monotonic()))
    while True:
        attempt = time.monotonic()
        try:
            ok = _probe_once(docker, component, probe, api_port, timeout)
        finally:
            component.slowest_probe = max(component.slowest_probe, time.monotonic() - attempt)
        if ok:
            component.healthy_after = time.monotonic() - component.started
            return
        if time.monotonic() > component.started + component.chart_budget or not running(docker, _main(component)):
            return
        time.sleep(max(0.0, attempt + interval - time.monotonic()))


def _probe_once(docker: Docker, component: Component, probe: dict, api_port: int, timeout: float) -> bool:
    """One attempt of the probe; what it answered is kept in component.last_probe."""
    if "httpGet" in probe:
        # The probe's container port is the API server's, moved to api_port on the host network.
        try:
            status, body = http_get(f"http://127.0.0.1:{api_port}{probe['httpGet']['path']}", timeout=timeout)
        except OSError as error:
            component.last_probe = str(error)
            return False
        component.last_probe = f"{status} {body[:300]!r}"
        return 200 <= status < 400
    command = [docker.binary, "exec", _main(component), *probe["exec"]["command"]]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        component.last_probe = f"timed out after {timeout:.0f}s"
        return False
    component.last_probe = f"exit {out.returncode}: {(out.stdout + out.stderr)[-600:]}"
    return out.returncode == 0


@pytest.fixture(scope="module")
def release(images: Docker, tcp_postgres: TcpPostgres) -> Iterator[Release]:
    run_id = uuid.uuid4().hex[:8]
    scratch = Path(tempfile.mkdtemp(prefix="af-components-"))
    scratch.chmod(0o755)
    api_port, trigger_log_port = free_port(), free_port()
    cluster = rendered_cluster(scratch, metadata_database(tcp_postgres))
    kube = KubeApiStandIn(scratch / "kube")
    config = cluster.config_maps[f"{RELEASE}-config"]["airflow.cfg"]
    # The only settings added to the chart's: ports moved because the host network is shared.
    host_ports = {
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
    }
    pods: list[Pod] = []
    components: dict[str, Component] = {}
    try:
        # 1. The migration Job (a Helm hook before the components start).
        job = Pod(images, cluster, cluster.pod(*MIGRATE[:2]), "migrate", scratch / "migrate", run_id, kube=kube)
        pods.append(job)
        (job_container,) = [c for c in job.spec["containers"] if c["name"] == MIGRATE[2]]
        started = time.monotonic()
        proc = job.run(job_container, detach=False)
        migrate_seconds = time.monotonic() - started
        if proc.returncode != 0:
            pytest.fail(f"the migration Job failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        # 2. The components: init containers in order, then the main container and its sidecars.
        for component, (workload, container_name) in COMPONENTS.items():
            spec = cluster.component_pod(workload)
            pod = Pod(images, cluster, spec, component, scratch / component, run_id, extra_env=host_ports, kube=kube)
            pods.append(pod)
            (main,) = [c for c in spec["containers"] if c["name"] == container_name]
            if any(m["name"] == "dags" for m in main.get("volumeMounts") or []):
                place_dags_as_git_sync(pod, main, config)
            for init in pod.airflow_containers("initContainers"):
                proc = pod.run(init, detach=False)
                if proc.returncode != 0:
                    pytest.fail(f"{component}: init container {init['name']} failed:\n{proc.stdout}\n{proc.stderr}")
            started = time.monotonic()
            for container in pod.airflow_containers("containers"):
                proc = pod.run(container, detach=True)
                if proc.returncode != 0:
                    pytest.fail(f"{component}: docker run of {container['name']} failed:\n{proc.stderr}")
            probe = main.get("startupProbe") or main.get("livenessProbe")
            assert probe, f"{component}: the chart renders no probe"
            what = f"httpGet {probe['httpGet']['path']}" if "httpGet" in probe else " ".join(probe["exec"]["command"])
            components[component] = Component(component, pod, container_name, what, started)
        release = Release(images, api_port, migrate_seconds, components, kube)
        # 3. Every component's probe, as the kubelet runs it: concurrently, each on its own period
        # (at most 10 s apart here, for the timing), a probe slower than its timeoutSeconds failing.
        # One still failing when its budget (initialDelaySeconds + periodSeconds * failureThreshold)
        # is spent would be restarted by the kubelet: failed.
        with ThreadPoolExecutor(max_workers=len(components)) as pool:
            for future in [pool.submit(probe_until_healthy, images, c, api_port) for c in components.values()]:
                future.result()
        for name, component in components.items():
            if component.healthy_after is None:
                pytest.fail(
                    f"{name} did not pass its probe ({' '.join(component.probe.split())}) within "
                    f"{component.chart_budget:.0f}s; last: {component.last_probe}\n{release.logs(name)}"
                )
        yield release
    finally:
        names = [name for pod in pods for name in pod.names]
        if names:
            subprocess.run([images.binary, "rm", "--force", *names], capture_output=True, timeout=300)
        kube.close()
        shutil.rmtree(scratch, ignore_errors=True)


def api_token(release: Release) -> str:
    """Log in as the simple auth manager's admin, with the password the API server generated."""
    passwords = release.exec("api-server", "cat", "/tmp/simple_auth_manager_passwords.json.generated")
    assert passwords.returncode == 0, passwords.stderr
    body = json.dumps({"username": "admin", "password": json.loads(passwords.stdout)["admin"]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{release.api_port}/auth/token",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


# --- the checks ------------------------------------------------------------------------------------


def test_the_migration_job_migrated_the_database(release: Release, tcp_postgres: TcpPostgres) -> None:
    print(f"\nairflow db migrate (the chart's Job): {release.migrate_seconds:.1f}s")
    with tcp_postgres.admin("airflow_meta") as conn:
        (version,) = conn.execute("select version_num from alembic_version").fetchone()
    assert version


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_each_component_passes_the_charts_probe(release: Release, component: str) -> None:
    c = release.components[component]
    print(
        f"\n{component}: healthy {c.healthy_after:.1f}s after start (the chart's probe allows {c.chart_budget:.0f}s;"
        f" slowest probe {c.slowest_probe:.1f}s): {' '.join(c.probe.split())}"
    )
    assert c.healthy_after is not None
    assert running(release.docker, release.main_container(component)), release.logs(component)


def test_the_api_server_sees_every_component_healthy(release: Release) -> None:
    status, health = release.api("/api/v2/monitor/health")
    assert status == 200, health
    parts = {"metadatabase", "scheduler", "triggerer", "dag_processor"}
    unhealthy = {p: health.get(p) for p in parts if (health.get(p) or {}).get("status") != "healthy"}
    assert not unhealthy, f"{unhealthy}\n{release.logs()}"


def test_the_dag_is_parsed_for_kubernetes_without_import_errors(release: Release) -> None:
    token = api_token(release)
    deadline = time.monotonic() + 180
    status, dag = release.api(f"/api/v2/dags/{DAG_ID}", token)
    while status == 404 and time.monotonic() < deadline:
        time.sleep(3)
        status, dag = release.api(f"/api/v2/dags/{DAG_ID}", token)
    assert status == 200, f"{status} {dag}\n{release.logs('dag-processor')}"
    status, errors = release.api("/api/v2/importErrors", token)
    assert status == 200 and errors["total_entries"] == 0, f"{errors}\n{release.logs('dag-processor')}"
    assert dag["fileloc"] == "/opt/airflow/dags/repo/airflow/dags/starlink_pipeline.py"
    inspect = subprocess.run(
        [release.docker.binary, "exec", release.main_container("dag-processor"), "printenv", "STARLINK_EXECUTION"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert inspect.stdout.strip() == "kubernetes"
    status, tasks = release.api(f"/api/v2/dags/{DAG_ID}/tasks", token)
    assert status == 200, tasks
    operators = {t["task_id"]: t["operator_name"] for t in tasks["tasks"]}
    print(f"\n{DAG_ID}: {len(operators)} tasks, operators {sorted(set(operators.values()))}")
    # The Kubernetes variant of every step (airflow/dags/starlink/operators.py): pods, not local
    # subprocesses (CliOperator) or cosmos' local dbt operators.
    steps = {task: op for task, op in operators.items() if op != "EmptyOperator"}
    kubernetes = {"CliPodOperator", "DbtThenCliPodOperator"}
    assert all(op in kubernetes or op.endswith("KubernetesOperator") for op in steps.values()), steps
    assert operators["report"] == "CliPodOperator" and operators["dbt.dbt_producer_watcher"].endswith(
        "KubernetesOperator"
    )


def test_the_docs_plugin_is_loaded_and_guards_the_docs(release: Release) -> None:
    token = api_token(release)
    status, plugins = release.api("/api/v2/plugins", token)
    assert status == 200, plugins
    names = {p["name"] for p in plugins["plugins"]}
    assert DOCS_PLUGIN in names, f"{names}\n{release.logs('api-server')}"
    (ours,) = [p for p in plugins["plugins"] if p["name"] == DOCS_PLUGIN]
    assert ours["fastapi_root_middlewares"], ours
    assert release.api("/cosmos/starlink42k/dbt_docs_index.html")[0] == 401  # no login: refused


def test_the_containers_run_as_the_chart_says(release: Release) -> None:
    for component in COMPONENTS:
        name = release.main_container(component)
        out = subprocess.run([release.docker.binary, "inspect", name], capture_output=True, text=True, check=True)
        host = json.loads(out.stdout)[0]["HostConfig"]
        config = json.loads(out.stdout)[0]["Config"]
        assert config["User"] == "50000:0", (component, config["User"])
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"], component
        assert host["Memory"] > 0 and host["NanoCpus"] > 0, component
        ids = release.exec(component, "id")
        assert ids.stdout.startswith("uid=50000(airflow) gid=0(root)"), ids.stdout
        pid1 = release.exec(component, "cat", "/proc/1/cmdline")
        assert pid1.stdout.split("\0")[:3] == ["/usr/bin/dumb-init", "--", "/entrypoint"], pid1.stdout


def test_the_log_groomers_run_beside_their_components(release: Release) -> None:
    groomers = [n for c in release.components.values() for n in c.pod.names if n.endswith("-log-groomer")]
    assert len(groomers) == 3, groomers  # scheduler, dag-processor, triggerer
    for name in groomers:
        assert running(release.docker, name), logs(release.docker, [name])
        out = subprocess.run([release.docker.binary, "logs", name], capture_output=True, text=True)
        assert "Cleaning logs every" in out.stdout, out.stdout + out.stderr


def test_the_kubernetes_executor_only_reads_its_worker_pods(release: Release) -> None:
    """The executor of the values starts and watches its worker pods, and asks nothing else."""
    config = release.exec("scheduler", "airflow", "config", "get-value", "core", "executor")
    assert config.stdout.strip() == "KubernetesExecutor", config.stdout + config.stderr
    requests = list(release.kube.requests)
    print(f"\nKubernetes API stand-in: {len(requests)} requests")
    for request in {(r.method, r.path, tuple(sorted((k, tuple(v)) for k, v in r.query.items()))) for r in requests}:
        print("   ", request)
    assert requests, f"the scheduler never reached the Kubernetes API\n{release.logs('scheduler')}"
    assert all(r.authorized for r in requests), "a request without the service account token"
    assert {r.method for r in requests} == {"GET"}, "the executor asked to change something"
    assert {r.path for r in requests} <= {PODS_PATH, *DISCOVERY}, {r.path for r in requests}
    # The watch of this scheduler's worker pods, and the listing of finished pods it could adopt.
    watches = [r for r in requests if r.watch]
    worker_watch = r"airflow-worker=\d+,airflow_executor_done!=True"
    assert watches and all(re.fullmatch(worker_watch, r.query["labelSelector"][0]) for r in watches)
    listings = [r for r in requests if r.path == PODS_PATH and not r.watch]
    assert all("kubernetes_executor=True" in r.query["labelSelector"][0] for r in listings)
