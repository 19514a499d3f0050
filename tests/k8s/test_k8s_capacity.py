"""What a laptop needs for the kind cluster, added up from the rendered requests of both charts (as
`make e2e` installs them) and the DAG's pod resources: the always-on pods, and a DAG run at the
Airflow parallelism k8s/airflow-values.yaml sets, must fit the kind worker k8s/README.md asks for,
so that no pod of a run waits Pending for CPU or memory. The README's figures are these sums."""

from __future__ import annotations

import ast
import re
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from k8s_helpers import K8S, ROOT, Render, airflow_chart_dir, cluster_mk_airflow_set, render_airflow_chart

README = K8S / "README.md"
POD_DEFAULTS = ROOT / "airflow" / "dags" / "starlink" / "pod_defaults.py"
# kind's own pods on a node that runs workloads (kind v0.33's manifests: kindnet on every node,
# the two CoreDNS replicas, which tolerate the control plane's taint but may land on the worker).
KIND_SYSTEM = {"cpu": 100 + 2 * 100, "memory": 50 + 2 * 70}
# The kubelet keeps this much memory free (kind's evictionHard memory.available).
EVICTION_MI = 100


def millicores(value: str) -> int:
    value = str(value)
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def mebibytes(value: str) -> int:
    value = str(value)
    units = {"Mi": 1, "Gi": 1024, "Ki": 1 / 1024}
    return int(float(value[:-2]) * units[value[-2:]])


def requests_of(containers: list[dict]) -> dict[str, int]:
    total = {"cpu": 0, "memory": 0}
    for container in containers:
        requests = (container.get("resources") or {}).get("requests") or {}
        total["cpu"] += millicores(requests.get("cpu", "0m"))
        total["memory"] += mebibytes(requests.get("memory", "0Mi"))
    return total


def add(*amounts: dict[str, int]) -> dict[str, int]:
    return {key: sum(a[key] for a in amounts) for key in ("cpu", "memory")}


def pod_resources(name: str) -> dict[str, int]:
    """PIPELINE_RESOURCES / DBT_RESOURCES of the DAG's pod defaults, read from the source (importing
    the module would import Airflow)."""
    for node in ast.walk(ast.parse(POD_DEFAULTS.read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            keywords = {k.arg: ast.literal_eval(k.value) for k in node.value.keywords}
            return requests_of([{"resources": keywords}])
    raise AssertionError(f"{POD_DEFAULTS} defines no {name}")


@pytest.fixture(scope="module")
def renders(helm_bin: Path, render: Render, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    flags = cluster_mk_airflow_set(GIT_REPO="https://github.com/example/r.git", GIT_BRANCH="main", IMAGE_TAG="abc")
    e2e = {"apiReplay": {"enabled": True, "image": {"repository": "starlink42k/pipeline", "tag": "abc"}}}
    return {
        "airflow": render_airflow_chart(helm_bin, airflow_chart_dir(), flags),
        "platform": render(e2e, tmp_path_factory.mktemp("capacity")),
    }


def always_on(objects: list[dict]) -> dict[str, int]:
    total = {"cpu": 0, "memory": 0}
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            pod = requests_of(obj["spec"]["template"]["spec"]["containers"])
            for _ in range(obj["spec"].get("replicas", 1)):
                total = add(total, pod)
    return total


def stated_node() -> tuple[int, int]:
    match = re.search(r"at least \*\*(\d+) CPUs and (\d+) GiB of memory\*\*", README.read_text())
    assert match, "k8s/README.md states no node size (at least **N CPUs and M GiB of memory**)"
    return int(match.group(1)), int(match.group(2))


def test_a_run_at_full_parallelism_fits_the_stated_node(renders: dict[str, list[dict]]) -> None:
    config = next(o for o in renders["airflow"] if o["metadata"]["name"] == "airflow-config")
    cfg = ConfigParser(interpolation=None)
    cfg.read_string(config["data"]["airflow.cfg"])
    parallelism = cfg.getint("core", "parallelism")
    assert 1 <= parallelism <= cfg.getint("core", "max_active_tasks_per_dag")
    worker = requests_of(yaml.safe_load(config["data"]["pod_template_file.yaml"])["spec"]["containers"])
    pipeline, dbt = pod_resources("PIPELINE_RESOURCES"), pod_resources("DBT_RESOURCES")
    base = add(always_on(renders["airflow"]), always_on(renders["platform"]), KIND_SYSTEM)
    # Every worker pod may have started its pod at once; one of them is the dbt build's.
    run = add(*[worker] * parallelism, *[pipeline] * (parallelism - 1), dbt)
    cpus, gib = stated_node()
    need = add(base, run)
    assert need["cpu"] <= cpus * 1000, f"{need['cpu']}m requested at parallelism {parallelism}: more than {cpus} CPUs"
    assert need["memory"] <= gib * 1024 - EVICTION_MI, f"{need['memory']}Mi requested: more than {gib} GiB"
    # The README's figures are these sums.
    text = README.read_text()
    assert f"request {base['cpu'] / 1000:.2f} CPU and {base['memory'] / 1024:.1f} GiB" in text, (base, run)
    assert f"at most {run['cpu'] / 1000:.2f} CPU and {run['memory'] / 1024:.1f} GiB more" in text, run
    assert f"parallelism {parallelism}" in text
