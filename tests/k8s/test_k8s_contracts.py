"""The names the DAG and the Airflow values code against exist in our chart, defined there once.

- Every (Secret, key) a pipeline or dbt pod reads (airflow/dags/starlink/kubernetes.py) exists in
  the rendered chart, in the pods' namespace; so does the settings ConfigMap, in both namespaces.
- Every Secret and ConfigMap k8s/airflow-values.yaml names exists in the Airflow namespace.
- The chart writes each of those names once, in templates/_helpers.tpl; every template uses it
  from there.

The DAG modules are read with `ast` (their names are module constants), not imported: that would
load Airflow, which these tests do not need.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_helpers import AIRFLOW_NAMESPACE, CHART, K8S, NAMESPACE, ROOT

# The DAG's Kubernetes module: its Secret catalogue and the settings ConfigMap's name.
KUBERNETES = ROOT / "airflow" / "dags" / "starlink" / "kubernetes.py"


def module_constants(path: Path) -> dict[str, Any]:
    """Module-level `NAME = "literal"` assignments."""
    constants = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return constants


def kube_secret_refs() -> set[tuple[str, str, str]]:
    """(env var, Secret name, key) of every `Secret("env", ...)` of the DAG's Kubernetes module."""
    path = KUBERNETES
    constants = module_constants(path)
    refs = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Secret":
            values = [a.value if isinstance(a, ast.Constant) else constants[a.id] for a in node.args]
            assert values[0] == "env", ast.unparse(node)
            refs.add((values[1], values[2], values[3]))
    return refs


def by_kind(objects: list[dict], kind: str, namespace: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind and o["metadata"]["namespace"] == namespace}


def test_every_secret_the_pods_read_exists_in_the_chart(objects: list[dict]) -> None:
    refs = kube_secret_refs()
    assert len(refs) >= 10, refs  # the parse found the catalogue
    secrets = by_kind(objects, "Secret", NAMESPACE)
    missing = [(env, name, key) for env, name, key in refs if key not in secrets.get(name, {}).get("data", {})]
    assert missing == []


def test_the_settings_configmap_exists_where_pods_and_airflow_read_it(objects: list[dict]) -> None:
    name = module_constants(KUBERNETES)["SETTINGS_CONFIGMAP"]
    for namespace in (NAMESPACE, AIRFLOW_NAMESPACE):
        assert name in by_kind(objects, "ConfigMap", namespace), namespace
    values = yaml.safe_load((K8S / "airflow-values.yaml").read_text())
    assert yaml.safe_load(values["extraEnvFrom"]) == [{"configMapRef": {"name": name}}]


def test_settings_reach_both_configmaps(render, tmp_path: Path) -> None:
    objects = render({"pipelineSettings": {"TARGET_SATELLITES": 50000, "DATASETS": "launches,starlink"}}, tmp_path)
    name = module_constants(KUBERNETES)["SETTINGS_CONFIGMAP"]
    for namespace in (NAMESPACE, AIRFLOW_NAMESPACE):
        config_map = by_kind(objects, "ConfigMap", namespace)[name]
        assert config_map["data"] == {"TARGET_SATELLITES": "50000", "DATASETS": "launches,starlink"}


@pytest.mark.parametrize("name", ["WAREHOUSE_URL", "AWS_SECRET_ACCESS_KEY", "LAKE_URL", "lowercase"])
def test_settings_refuse_credentials_and_endpoints(helm_bin: Path, tmp_path: Path, name: str) -> None:
    from k8s_helpers import run_helm

    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"pipelineSettings": {name: "x"}}))
    proc = run_helm(helm_bin, "template", "x", str(CHART), "--values", str(values), check=False)
    assert proc.returncode != 0 and name in proc.stderr, proc.stderr


def test_every_secret_the_airflow_values_name_exists_in_the_chart(objects: list[dict]) -> None:
    values = yaml.safe_load((K8S / "airflow-values.yaml").read_text())
    named = {values[key] for key in values if key.endswith("SecretName")}
    named |= {s["secretName"] for s in values["secret"]}
    assert named
    assert named <= set(by_kind(objects, "Secret", AIRFLOW_NAMESPACE))


def test_the_chart_writes_each_contract_name_once_in_its_helpers(objects: list[dict]) -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    defined = dict(
        re.findall(r'\{\{- define "(starlink\.(?:secret|configMap)\.\w+)" -\}\}([a-z0-9-]+)\{\{- end', helpers)
    )
    contract = {name for _, name, _ in kube_secret_refs()} | {module_constants(KUBERNETES)["SETTINGS_CONFIGMAP"]}
    assert contract <= set(defined.values())
    for template in (CHART / "templates").glob("*.yaml"):
        text = re.sub(r"\{\{-? */\*.*?\*/ *-?\}\}", "", template.read_text(), flags=re.S)  # template comments
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        for name in defined.values():
            assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", code), f"{template.name} writes {name}"
