"""The cluster-level files: k8s/*.yaml manifests and kind-config.yaml."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml
from k8s_helpers import K8S, KIND_CONFIG, kind_node_image

# YAML files in k8s/ that are not Kubernetes manifests, and where they are checked instead.
NOT_MANIFESTS = {
    "airflow-values.yaml": "test_k8s_airflow_values.py (chart values schema)",
    "prometheus-values.yaml": "test_k8s_observability_stack.py",
    "grafana-values.yaml": "test_k8s_observability_stack.py",
}


def manifest_files() -> list[str]:
    return sorted(p.name for p in K8S.glob("*.y*ml") if p.name not in NOT_MANIFESTS)


class TestK8sDirectory:
    def test_every_yaml_file_is_checked_somewhere(self) -> None:
        names = {p.name for p in K8S.glob("*.y*ml")}
        assert names == set(manifest_files()) | set(NOT_MANIFESTS), "a YAML file in k8s/ is not tested"
        assert "namespaces.yaml" in names

    @pytest.mark.parametrize("name", manifest_files())
    def test_manifest_is_valid_kubernetes(self, name: str, kube_version: str) -> None:
        docs = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
        assert docs, f"{name} is empty"
        for doc in docs:
            where = f"{name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, kube_version, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{where} invalid for Kubernetes {kube_version}: {err.message}")
            except kubernetes_validate.SchemaNotFoundError as err:
                pytest.fail(f"{where}: {err.message}")


class TestNamespaces:
    def namespaces(self) -> dict[str, dict]:
        docs = [d for d in yaml.safe_load_all((K8S / "namespaces.yaml").read_text()) if d]
        return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Namespace"}

    def test_both_namespaces(self) -> None:
        assert set(self.namespaces()) == {"starlink", "airflow"}

    @pytest.mark.parametrize(("name", "enforce"), [("starlink", "restricted"), ("airflow", "baseline")])
    def test_pod_security_labels(self, name: str, enforce: str, kube_version: str) -> None:
        labels = self.namespaces()[name]["metadata"]["labels"]
        minor = "v" + ".".join(kube_version.split(".")[:2])
        assert labels["pod-security.kubernetes.io/enforce"] == enforce
        for mode in ("warn", "audit"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        for mode in ("enforce", "warn", "audit"):
            # Pinned to the cluster's version: a kind upgrade does not silently change the rules.
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == minor


class TestKindConfig:
    """kind's config is not a Kubernetes object: checked structurally."""

    def config(self) -> dict:
        return yaml.safe_load(KIND_CONFIG.read_text())

    def test_kind_and_api_version(self) -> None:
        config = self.config()
        assert config["kind"] == "Cluster"
        assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
        assert set(config) <= {"kind", "apiVersion", "name", "nodes", "networking", "featureGates"}

    def test_one_control_plane_one_worker(self) -> None:
        roles = [node["role"] for node in self.config()["nodes"]]
        assert roles == ["control-plane", "worker"]

    def test_node_image_pinned_by_digest(self) -> None:
        assert re.fullmatch(r"kindest/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", kind_node_image())

    def test_the_comment_names_the_kind_release(self) -> None:
        assert re.search(r"kind v\d+\.\d+\.\d+", KIND_CONFIG.read_text())

    def test_version_is_supported_by_the_validator(self, kube_version: str) -> None:
        assert kubernetes_validate.utils.major_minor(kube_version) in [
            kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()
        ]

    def test_ui_port_mapping_is_loopback_only(self) -> None:
        control_plane = self.config()["nodes"][0]
        (mapping,) = control_plane["extraPortMappings"]
        assert mapping == {
            "containerPort": 30080,
            "hostPort": 8080,
            "listenAddress": "127.0.0.1",
            "protocol": "TCP",
        }
        for node in self.config()["nodes"][1:]:
            assert "extraPortMappings" not in node
