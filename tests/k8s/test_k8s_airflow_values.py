"""k8s/airflow-values.yaml against the official Airflow chart's values schema, and its contracts.

The schema is the one of the chart the tests render (k8s_helpers.airflow_chart_dir: AIRFLOW_CHART_DIR,
`make airflow-chart`'s pull, or the reference copy); test_k8s_airflow_chart.py renders the chart
itself. Without a chart these tests fail rather than skip.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml
from k8s_helpers import (
    AIRFLOW_NAMESPACE,
    CLUSTER_MK,
    K8S,
    KIND_CONFIG,
    ROOT,
    airflow_chart_dir,
    decode,
    find,
    make_var_default,
)

VALUES_FILE = K8S / "airflow-values.yaml"
MISSING = object()


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES_FILE.read_text())


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads((airflow_chart_dir() / "values.schema.json").read_text())


def resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (#/definitions/...)."""
    while "$ref" in node and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_defaults(node: dict[str, Any], root: dict[str, Any]) -> Any:
    """The chart's defaults as recorded in the schema's `default` fields (they mirror values.yaml).

    A node's own default wins when it is valid for the node's subschema (a few are placeholders
    such as "See values.yaml"); otherwise an object is rebuilt from its properties' defaults,
    and left out when none of them has one.
    """
    node = resolve(node, root)
    if "default" in node:
        validator = jsonschema.Draft7Validator({**node, "definitions": root.get("definitions", {})})
        if validator.is_valid(node["default"]):
            return copy.deepcopy(node["default"])
    if "properties" in node:
        out = {}
        for key, sub in node["properties"].items():
            value = schema_defaults(sub, root)
            if value is not MISSING:
                out[key] = value
        return out if out else MISSING
    return MISSING


def merged(base: Any, override: Any) -> Any:
    """Helm's merge of user values over chart values: maps merge, everything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merged(base.get(key), value) if key in base else value
        return out
    return override


def set_keys() -> list[str]:
    """Every `--set`/`--set-string` key k8s/cluster.mk passes to the Airflow chart (its AIRFLOW_SET;
    the platform chart's flags are another chart's)."""
    block = re.search(r"^AIRFLOW_SET = \\\n((?:.*\\\n)*.*)$", CLUSTER_MK.read_text(), re.MULTILINE)
    assert block, "k8s/cluster.mk defines no AIRFLOW_SET"
    return re.findall(r"--set(?:-string)?\s+([A-Za-z0-9_./-]+?)=", block.group(1))


def schema_node(schema: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node = schema
    for part in dotted.split("."):
        node = resolve(node, schema)
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        if part in props:
            node = props[part]
        elif isinstance(extra, dict):  # a map such as airflowPodAnnotations
            node = extra
        else:
            return None
    return resolve(node, schema)


def accepts_string(node: dict[str, Any]) -> bool:
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    return "string" in types


class TestSchema:
    """Helm validates the *merged* values, and a few schema blocks have `required` keys. The
    schema carries the chart's defaults in its `default` fields, so we rebuild those defaults,
    merge our values over them as Helm would, and validate the result; our file alone must
    validate too, so a typo can never hide behind a default."""

    def test_values_alone_match_the_schema(self, values: dict, schema: dict) -> None:
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(values), key=str)
        assert not errors, "\n".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)

    def test_values_merged_over_the_chart_defaults_match_the_schema(self, values: dict, schema: dict) -> None:
        defaults = schema_defaults(schema, schema)
        assert len(defaults) > 50 and defaults["executor"] == "CeleryExecutor"  # really rebuilt
        full = merged(defaults, values)
        assert full["executor"] == "KubernetesExecutor"
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(full), key=str)
        assert not errors, "\n".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)

    def test_set_keys_of_cluster_mk_exist_in_the_schema(self, schema: dict) -> None:
        keys = set_keys()
        assert {
            "dags.gitSync.repo",
            "dags.gitSync.branch",
            "dags.gitSync.subPath",
            "images.airflow.tag",
        } <= set(keys)
        for key in keys:
            node = schema_node(schema, key)
            assert node is not None, f"k8s/cluster.mk sets {key}, which the chart's schema does not know"
            assert accepts_string(node), f"{key} is set with --set-string but is not a string in the schema"

    def test_set_keys_exist_in_our_values_too(self, values: dict) -> None:
        """Each overridden key also has a documented placeholder in the values file."""
        for key in set_keys():
            if key == "dags.gitSync.sshKeySecret":  # optional, only for private repositories
                continue
            node: Any = values
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{key} has no placeholder in {VALUES_FILE.name}"
                node = node[part]


class TestImage:
    def test_our_image_pinned_and_never_pulled(self, values: dict) -> None:
        """The tag is the build's (IMAGE_TAG, set by cluster.mk); the file holds a placeholder."""
        assert values["images"]["airflow"] == {
            "repository": "starlink42k/airflow",
            "tag": "set-by-make-cluster-up",
            "pullPolicy": "IfNotPresent",
        }
        assert (values["defaultAirflowRepository"], values["defaultAirflowTag"]) == (
            "starlink42k/airflow",
            "set-by-make-cluster-up",
        )
        mk = CLUSTER_MK.read_text()
        assert "--set-string images.airflow.tag=$(IMAGE_TAG)" in mk
        assert "--set-string defaultAirflowTag=$(IMAGE_TAG)" in mk

    def test_airflow_version_matches_the_project_pin(self, values: dict) -> None:
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
        pins = [d for deps in pyproject["project"]["optional-dependencies"].values() for d in deps]
        (pin,) = [d for d in pins if re.match(r"apache-airflow==", d)]
        assert values["airflowVersion"] == pin.split("==")[1]


class TestExecutionAndDags:
    def test_kubernetes_executor(self, values: dict) -> None:
        assert values["executor"] == "KubernetesExecutor"

    def test_git_sync(self, values: dict) -> None:
        git = values["dags"]["gitSync"]
        assert git["enabled"] is True
        assert git["subPath"] == make_var_default("GIT_SUBPATH")
        assert git["branch"] == git["ref"]  # git-sync v3 reads branch, v4 reads ref
        assert re.fullmatch(r"\d+s", git["period"])

    def test_pipeline_environment(self, values: dict) -> None:
        env = {e["name"]: e["value"] for e in values["env"]}
        assert env["STARLINK_EXECUTION"] == "kubernetes"
        assert env["STARLINK_NAMESPACE"] == "starlink"
        assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
        # Names only here (STARLINK_LAKE_CONN is a connection id); credentials belong in `secret`.
        sensitive = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|^AIRFLOW_CONN_", re.IGNORECASE)
        assert not [name for name in env if sensitive.search(name)], "credentials belong in `secret`"
        assert env["STARLINK_LAKE_CONN"] == "lake_s3"


class TestSecretsAndConnections:
    SECRET_KEYS: ClassVar[dict[str, str]] = {
        "fernetKeySecretName": "fernet-key",
        "apiSecretKeySecretName": "api-secret-key",
        "jwtSecretName": "jwt-secret",
    }

    def test_static_keys_come_from_the_platform_secrets(self, values: dict, objects: list[dict]) -> None:
        for value_key, secret_key in self.SECRET_KEYS.items():
            secret = find(objects, "Secret", values[value_key])
            assert secret["metadata"]["namespace"] == AIRFLOW_NAMESPACE
            assert decode(secret, secret_key)
        for inline in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey", "webserverSecretKeySecretName"):
            assert not values.get(inline), f"{inline} would put a key in the values file"

    def test_lake_connection_from_its_secret(self, values: dict, objects: list[dict]) -> None:
        (entry,) = [s for s in values["secret"] if s["envName"] == "AIRFLOW_CONN_LAKE_S3"]
        secret = find(objects, "Secret", entry["secretName"])
        conn = json.loads(decode(secret, entry["secretKey"]))
        assert conn["conn_type"] == "aws"

    def test_slack_connection_is_optional(self, values: dict) -> None:
        extra = yaml.safe_load(values["extraEnv"])
        (slack,) = [e for e in extra if e["name"] == "AIRFLOW_CONN_SLACK_ALERTS"]
        assert slack["valueFrom"]["secretKeyRef"] == {
            "name": "slack-alerts",
            "key": "connection",
            "optional": True,
        }
        assert "slack-alerts" in CLUSTER_MK.read_text()


class TestLogsAndDocs:
    def chart_values(self) -> dict:
        return yaml.safe_load((ROOT / "charts" / "starlink-platform" / "values.yaml").read_text())

    def test_remote_task_logs_in_the_lake(self, values: dict) -> None:
        logging = values["config"]["logging"]
        bucket = self.chart_values()["minio"]["buckets"]["logs"]
        assert logging["remote_logging"] == "True"
        assert logging["remote_base_log_folder"].startswith(f"s3://{bucket}/")
        assert logging["remote_log_conn_id"] == "lake_s3"

    def test_dbt_docs_served_from_the_lake(self, values: dict) -> None:
        projects = json.loads(values["config"]["cosmos"]["dbt_docs_projects"])
        bucket = self.chart_values()["minio"]["buckets"]["lake"]
        ((slug, project),) = projects.items()
        assert re.fullmatch(r"[a-z0-9_-]+", slug)
        assert project["dir"] == f"s3://{bucket}/dbt-docs"
        assert project["conn_id"] == "lake_s3"
        assert project["index"] == "index.html"


class TestUiAndAuth:
    def test_ui_node_port_matches_the_kind_mapping(self, values: dict) -> None:
        kind = yaml.safe_load(KIND_CONFIG.read_text())
        (mapping,) = kind["nodes"][0]["extraPortMappings"]
        service = values["apiServer"]["service"]
        assert service["type"] == "NodePort"
        assert service["ports"][0]["nodePort"] == mapping["containerPort"]
        assert str(mapping["hostPort"]) == make_var_default("AIRFLOW_UI_PORT")

    def test_simple_auth_manager_and_the_printed_login_command(self, values: dict) -> None:
        core = values["config"]["core"]
        assert core["auth_manager"].endswith("SimpleAuthManager")
        assert core["simple_auth_manager_users"].split(":")[0] == "admin"
        # The FAB-based user job cannot work with this auth manager (and apiServer.defaultUser is
        # refused by the chart since 1.19).
        assert values["createUserJob"]["enabled"] is False
        assert "defaultUser" not in values.get("apiServer", {}) and "webserver" not in values
        # `make cluster-info` prints a command that reads exactly this file.
        assert f"cat {core['simple_auth_manager_passwords_file']}" in CLUSTER_MK.read_text()

    def test_components_have_requests_and_limits(self, values: dict) -> None:
        for component in ("scheduler", "apiServer", "dagProcessor", "triggerer", "workers.kubernetes"):
            node = values
            for part in component.split("."):
                node = node[part]
            assert set(node["resources"]) == {"requests", "limits"}, component
        assert "resources" not in values["workers"], "workers.resources is deprecated: workers.kubernetes.resources"

    def test_pods_run_hardened(self, values: dict) -> None:
        pod = values["securityContexts"]["pod"]
        assert pod["runAsNonRoot"] is True and pod["seccompProfile"]["type"] == "RuntimeDefault"
        container = values["securityContexts"]["containers"]  # the chart's documented key
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"]["drop"] == ["ALL"]
