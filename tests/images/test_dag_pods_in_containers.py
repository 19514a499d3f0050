"""The DAG's own pods, run as containers: the whole pipeline as the cluster would run it.

Every pod the Kubernetes-mode DAG submits for one ds (built offline, exactly as in
tests/airflow/test_airflow_pods.py) becomes `docker run` of the same image with the same command,
arguments, environment (secretKeyRefs resolved from a stand-in of the chart's Secrets), user,
read-only root filesystem, dropped capabilities, /tmp emptyDir (shared by a pod's init and main
containers) and resource limits, in the DAG's order, against real services on loopback: the API
replay of the bundled sample data, moto's S3 server as MinIO, PostgreSQL over TCP. The only thing
added to the pods' environment is where the APIs are (the cluster's pods reach the internet).
Cosmos' watcher sensors are skipped: they submit a pod only when retried (those pods are checked
offline in tests/airflow/test_airflow_pods.py).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest
from images_helpers import IMAGE_TAG, IMAGE_TESTS, NOT_REQUESTED, ROOT, Bucket, Docker, TcpPostgres, output

from starlink42k.replay import SAMPLE_DIR, ReplayServer
from support.point_in_time import in_orbit_satcat, starlink_payloads

if not IMAGE_TESTS:
    pytest.skip(NOT_REQUESTED, allow_module_level=True)

sys.path.insert(0, str(ROOT / "tests" / "airflow"))
import airflow_helpers as h

DS = h.DS


def secrets_of_the_cluster(pg: TcpPostgres, bucket: Bucket) -> dict[str, dict[str, str]]:
    """What charts/starlink-platform/templates/secrets.yaml holds, pointing at the loopback services."""
    return {
        "warehouse-credentials": {
            "url": pg.url, "host": "127.0.0.1", "port": str(pg.port), "user": pg.user,
            "password": pg.password, "dbname": pg.database,
        },
        "lake-credentials": {
            "lake-url": f"s3://{bucket.name}", "endpoint-url": bucket.endpoint,
            "access-key-id": bucket.credentials["AWS_ACCESS_KEY_ID"],
            "secret-access-key": bucket.credentials["AWS_SECRET_ACCESS_KEY"],
            "region": bucket.credentials.get("AWS_DEFAULT_REGION", "us-east-1"),
        },
    }  # fmt: skip


def _quantity(value: str, memory: bool) -> str:
    if memory:
        for suffix, unit in (("Gi", "g"), ("Mi", "m"), ("Ki", "k")):
            if value.endswith(suffix):
                return value[: -len(suffix)] + unit
        return value
    return str(int(value[:-1]) / 1000) if value.endswith("m") else value


def docker_run_args(pod: dict, container: dict, secrets: dict, extra_env: dict, tmp_dir: Path) -> list[str]:
    """`docker run` options and command for one container of a pod spec."""
    pod_sc, sc = pod["spec"].get("securityContext", {}), container.get("securityContext", {})
    user = f"{sc.get('runAsUser', pod_sc.get('runAsUser'))}:{pod_sc.get('runAsGroup', 0)}"
    args = ["--network", "host", "--user", user]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if "ALL" in sc.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", "ALL"]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    empty_dirs = {v["name"] for v in pod["spec"].get("volumes", []) if "emptyDir" in v}
    for mount in container.get("volumeMounts", []):
        assert mount["name"] in empty_dirs, f"only emptyDir volumes are expected, got {mount}"
        args += ["--volume", f"{tmp_dir / mount['name']}:{mount['mountPath']}"]
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        args += ["--memory", _quantity(limits["memory"], memory=True)]
    if "cpu" in limits:
        args += ["--cpus", _quantity(limits["cpu"], memory=False)]
    for var in container.get("env", []):
        if "valueFrom" in var:
            ref = var["valueFrom"]["secretKeyRef"]
            value = secrets[ref["name"]][ref["key"]]
        else:
            value = var["value"]
        args += ["--env", f"{var['name']}={value}"]
    for name, value in extra_env.items():
        args += ["--env", f"{name}={value}"]
    command = container.get("command") or []
    if command:
        args += ["--entrypoint", command[0]]
    return [*args, container["image"], *command[1:], *container.get("args", [])]


def pods_in_dag_order() -> list[tuple[str, dict]]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in h.AIRFLOW_ENV.items():
            mp.setenv(name, value)
        if h.dbt_sources_newer_than(h.MANIFEST):
            subprocess.run(
                [
                    str(h.BIN / "dbt"),
                    "parse",
                    "--project-dir",
                    str(h.DBT_DIR),
                    "--profiles-dir",
                    str(h.DBT_DIR),
                    "--target-path",
                    "target",
                    "--quiet",
                ],
                check=True,
                timeout=300,
            )
        # The pods ask for the images of the tag this run built (the Airflow image sets it).
        dag = h.load_dag(mp, STARLINK_EXECUTION="kubernetes", STARLINK_IMAGE_TAG=IMAGE_TAG)
        pods = []
        for task in dag.topological_sort():
            if not hasattr(task, "build_pod_request_obj"):
                continue
            if task.task_id.startswith("dbt.") and task.task_id != "dbt.dbt_producer_watcher":
                continue  # a watcher sensor: it submits a pod only when retried
            pods.append((task.task_id, h.build_pod(task)))
    return pods


def sample_in_orbit() -> tuple[str, int]:
    """Satellites in orbit as of the run's ds (or the data's newest date, if earlier), by the
    definition, straight from the bundled SATCAT sample (support/point_in_time.py)."""
    records = json.loads(gzip.decompress((SAMPLE_DIR / "celestrak_satcat.json.gz").read_bytes()))
    payloads = [r for r in starlink_payloads(records) if r["LAUNCH_DATE"]]
    newest = max(max(d for d in (r["LAUNCH_DATE"], r["DECAY_DATE"]) if d) for r in payloads)
    as_of = min(date.fromisoformat(DS), date.fromisoformat(newest))
    return as_of.isoformat(), in_orbit_satcat(records, as_of)


@pytest.fixture(scope="module")
def cluster_run(images: Docker, sample_api: ReplayServer, lake_bucket: Bucket, tcp_postgres: TcpPostgres) -> dict:
    secrets = secrets_of_the_cluster(tcp_postgres, lake_bucket)
    apis = {"SPACEX_API_URL": sample_api.spacex_url, "CELESTRAK_URL": sample_api.url, "HTTP_BACKOFF_SECONDS": "0.1"}
    runs: dict[str, list[subprocess.CompletedProcess[str]]] = {}
    for task_id, pod in pods_in_dag_order():
        with tempfile.TemporaryDirectory(prefix="pod-") as tmp:
            for volume in pod["spec"].get("volumes", []):
                (Path(tmp) / volume["name"]).mkdir(mode=0o777)
                (Path(tmp) / volume["name"]).chmod(0o1777)  # an emptyDir is writable by the pod's user
            runs[task_id] = []
            for container in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
                command = [images.binary, "run", "--rm", *docker_run_args(pod, container, secrets, apis, Path(tmp))]
                proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
                runs[task_id].append(proc)
                if proc.returncode != 0:
                    pytest.fail(f"{task_id} / {container['name']} failed:\n{output(proc)}")
    return runs


def test_every_pod_of_the_dag_ran(cluster_run: dict) -> None:
    datasets = ("launches", "starlink", "satcat")
    expected = {f"{d}.{step}" for d in datasets for step in ("extract", "to_csv", "load")}
    expected |= {"freshness", "dbt.dbt_producer_watcher", "report", "dbt_docs"}
    assert set(cluster_run) == expected
    assert len(cluster_run["dbt_docs"]) == 2  # dbt docs generate, then publish-docs, sharing /tmp


def test_the_pods_log_json(cluster_run: dict) -> None:
    for task_id, procs in cluster_run.items():
        if task_id.startswith("dbt"):
            continue
        lines = [line for line in procs[-1].stderr.splitlines() if line.strip()]
        assert lines and all(json.loads(line)["event"] for line in lines), task_id


def test_the_answer_and_the_docs_are_in_the_lake(cluster_run: dict, lake_bucket: Bucket) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=lake_bucket.endpoint, **{
        "aws_access_key_id": lake_bucket.credentials["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": lake_bucket.credentials["AWS_SECRET_ACCESS_KEY"],
        "region_name": lake_bucket.credentials.get("AWS_DEFAULT_REGION", "us-east-1"),
    })  # fmt: skip
    body = s3.get_object(Bucket=lake_bucket.name, Key=f"reports/starlink/ds={DS}/answer.json")["Body"]
    answer = json.loads(body.read())
    as_of, in_orbit = sample_in_orbit()
    assert answer["ds"] == DS and answer["source"] == "celestrak_satcat"
    assert answer["as_of"] == date.fromisoformat(as_of).isoformat() and answer["satellites_in_orbit"] == in_orbit
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=lake_bucket.name, Prefix="dbt-docs/")["Contents"]}
    assert keys == {"dbt-docs/index.html", "dbt-docs/manifest.json", "dbt-docs/catalog.json"}
