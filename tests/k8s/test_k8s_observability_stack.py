"""The metrics stack of `make observability`, checked without a cluster: the Airflow chart's statsd
exporter as the official chart renders it with our values, the committed values of the Prometheus and
Grafana charts against the objects of the charts they must meet (scrape targets, the datasource
Secret, the dashboard label, the NetworkPolicy peers), and k8s/observability.mk, dry-run, and
cluster-up against the fake cluster (tests/k8s/fake_cluster.py).

The Prometheus and Grafana charts themselves cannot be rendered here (no chart repository): their
values are checked as data, against the keys of the chart versions observability.mk pins.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jmespath
import pytest
import yaml
from fake_cluster import FakeClusterRun
from k8s_helpers import AIRFLOW_NAMESPACE, CHART, K8S, ROOT, Render, decode, find, run_helm
from test_k8s_airflow_chart import chart, rendered  # noqa: F401  (fixtures: the official chart, rendered)
from test_k8s_cluster_mk import TOP_LEVEL, dry_run, run_make

OBSERVABILITY_MK = K8S / "observability.mk"
MONITORING = "monitoring"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / name).read_text())


@pytest.fixture(scope="module")
def on(render: Render, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render({"observability": {"enabled": True}}, tmp_path_factory.mktemp("stack"))


def mk_var(name: str) -> str:
    match = re.search(rf"^{name}\s*[:?]?=\s*(.*)$", OBSERVABILITY_MK.read_text(), re.MULTILINE)
    assert match, name
    return match.group(1).strip()


# --- Airflow's statsd exporter (the official chart, our values) ------------------------------------


class TestAirflowStatsd:
    def test_the_exporter_renders_hardened_and_tokenless(self, rendered: list[dict]) -> None:  # noqa: F811
        deploy = find(rendered, "Deployment", "airflow-statsd")
        spec = deploy["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        (container,) = spec["containers"]
        assert re.fullmatch(r"quay\.io/prometheus/statsd-exporter:v\d+\.\d+\.\d+", container["image"])
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["readOnlyRootFilesystem"] is True and ctx["runAsNonRoot"] is True
        assert set(container["resources"]) == {"requests", "limits"}
        assert find(rendered, "ServiceAccount", "airflow-statsd")["automountServiceAccountToken"] is False
        mounts = jmespath.search("containers[0].volumeMounts[].mountPath", spec)
        assert mounts == ["/etc/statsd-exporter"]

    def test_every_airflow_component_sends_to_it_with_legacy_names(self, rendered: list[dict]) -> None:  # noqa: F811
        config = find(rendered, "ConfigMap", "airflow-config")["data"]["airflow.cfg"]
        metrics = dict(re.findall(r"^(\w+) = (.*)$", config.split("[metrics]")[1].split("\n[")[0], re.MULTILINE))
        assert metrics["statsd_on"] == "True" and metrics["legacy_names_on"] == "True"
        service = find(rendered, "Service", metrics["statsd_host"])
        ingest = jmespath.search("spec.ports[?name=='statsd-ingest'] | [0]", service)
        assert (ingest["protocol"], ingest["port"]) == ("UDP", int(metrics["statsd_port"]))
        assert metrics["statsd_prefix"] == "airflow"

    def test_our_mapping_is_in_the_rendered_mappings(self, rendered: list[dict]) -> None:  # noqa: F811
        mappings = yaml.safe_load(find(rendered, "ConfigMap", "airflow-statsd")["data"]["mappings.yml"])["mappings"]
        ours = load("airflow-values.yaml")["statsd"]["extraMappings"]
        assert ours and all(m in mappings for m in ours)
        assert len({m["name"] for m in mappings}) == len(mappings), "one metric name per mapping"


# --- Prometheus ------------------------------------------------------------------------------------


def scrape_jobs() -> dict[str, dict[str, Any]]:
    return {j["job_name"]: j for j in load("prometheus-values.yaml")["serverFiles"]["prometheus.yml"]["scrape_configs"]}


class TestPrometheusValues:
    def test_the_server_only_sized_and_hardened(self) -> None:
        values = load("prometheus-values.yaml")
        for sub in ("alertmanager", "kube-state-metrics", "prometheus-node-exporter", "prometheus-pushgateway"):
            assert values[sub] == {"enabled": False}, sub
        server = values["server"]
        assert set(server["resources"]) == {"requests", "limits"}
        assert server["retention"] and server["retentionSize"] and server["persistentVolume"]["size"] == "2Gi"
        assert server["securityContext"]["runAsNonRoot"] is True
        assert server["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for ctx in (
            server["containerSecurityContext"],
            values["configmapReload"]["prometheus"]["containerSecurityContext"],
        ):
            assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}

    def test_exactly_four_jobs(self) -> None:
        assert set(scrape_jobs()) == {"prometheus", "airflow-statsd", "warehouse-postgres-exporter", "kubelet"}

    def test_the_statsd_target_is_the_airflow_charts_service(self, rendered: list[dict]) -> None:  # noqa: F811
        service = find(rendered, "Service", "airflow-statsd")
        port = jmespath.search("spec.ports[?name=='statsd-scrape'] | [0].port", service)
        (target,) = scrape_jobs()["airflow-statsd"]["static_configs"][0]["targets"]
        assert target == f"airflow-statsd.{AIRFLOW_NAMESPACE}.svc.cluster.local:{port}"
        assert scrape_jobs()["airflow-statsd"]["scrape_protocols"] == ["PrometheusText0.0.4"]

    def test_the_exporter_target_is_our_charts_service(self, on: list[dict]) -> None:
        service = find(on, "Service", "starlink-warehouse-exporter")
        (target,) = scrape_jobs()["warehouse-postgres-exporter"]["static_configs"][0]["targets"]
        port = service["spec"]["ports"][0]["port"]
        assert target == f"starlink-warehouse-exporter.{service['metadata']['namespace']}.svc.cluster.local:{port}"
        assert scrape_jobs()["warehouse-postgres-exporter"]["scrape_protocols"] == ["PrometheusText0.0.4"]

    def test_the_kubelets_keep_only_the_pod_start_histograms(self) -> None:
        job = scrape_jobs()["kubelet"]
        (keep,) = job["metric_relabel_configs"]
        assert keep["action"] == "keep" and keep["source_labels"] == ["__name__"]
        pattern = re.compile(f"^(?:{keep['regex']})$")  # Prometheus anchors relabel regexes
        assert pattern.match("kubelet_pod_start_sli_duration_seconds_bucket")
        assert pattern.match("kubelet_pod_start_total_duration_seconds_count")
        assert not pattern.match("kubelet_running_pods") and not pattern.match("container_cpu_usage_seconds_total")
        assert job["kubernetes_sd_configs"] == [{"role": "node"}]

    def test_our_chart_admits_the_prometheus_pods_of_this_release(self, on: list[dict]) -> None:
        """The exporter's ingress names the Prometheus chart's server pod labels (its selector labels for
        release `prometheus`: name, component `server`, instance)."""
        labels = yaml.safe_load((CHART / "values.yaml").read_text())["observability"]["prometheusPodLabels"]
        release = re.search(r"upgrade --install (\S+) prometheus ", OBSERVABILITY_MK.read_text()).group(1)
        assert labels == {
            "app.kubernetes.io/name": "prometheus",
            "app.kubernetes.io/component": "server",
            "app.kubernetes.io/instance": release,
        }


# --- Grafana ---------------------------------------------------------------------------------------


def datasources() -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in load("grafana-values.yaml")["datasources"]["datasources.yaml"]["datasources"]}


class TestGrafanaValues:
    def test_no_volume_no_cluster_role_hardened_sized(self) -> None:
        values = load("grafana-values.yaml")
        assert values["persistence"]["enabled"] is False and values["rbac"]["namespaced"] is True
        assert values["testFramework"]["enabled"] is False
        assert values["securityContext"]["runAsNonRoot"] is True
        for ctx in (values["containerSecurityContext"], values["sidecar"]["securityContext"]):
            assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault"
        for resources in (values["resources"], values["sidecar"]["resources"]):
            assert set(resources) == {"requests", "limits"}
        assert values["grafana.ini"]["analytics"]["reporting_enabled"] is False

    def test_datasources_prometheus_and_the_read_only_warehouse(self) -> None:
        sources = datasources()
        assert set(sources) == {"prometheus", "warehouse"}
        release = re.search(r"upgrade --install (\S+) prometheus ", OBSERVABILITY_MK.read_text()).group(1)
        assert sources["prometheus"]["url"] == f"http://{release}-server.{MONITORING}.svc.cluster.local"
        assert sources["warehouse"]["type"] == "grafana-postgresql-datasource"

    def test_the_warehouse_login_comes_from_our_secret_never_from_values(self, on: list[dict]) -> None:
        values = load("grafana-values.yaml")
        secret = find(on, "Secret", values["envFromSecret"])
        assert secret["metadata"]["namespace"] == MONITORING
        warehouse = datasources()["warehouse"]
        text = yaml.safe_dump(warehouse)
        used = set(re.findall(r"\$__env\{(\w+)\}", text))
        assert used == set(secret["data"]), "every variable the datasource reads, and only those"
        assert warehouse["secureJsonData"]["password"] == "$__env{WAREHOUSE_READER_PASSWORD}"
        reader = find(on, "Secret", "warehouse-reader-credentials")
        assert decode(secret, "WAREHOUSE_READER_PASSWORD") == decode(reader, "password")
        assert not re.search(r"password:\s*[^$\s]", (K8S / "grafana-values.yaml").read_text())

    def test_the_sidecar_finds_our_dashboard_configmap(self, on: list[dict]) -> None:
        dashboards = load("grafana-values.yaml")["sidecar"]["dashboards"]
        config_map = find(on, "ConfigMap", "starlink42k-dashboards")
        assert dashboards["enabled"] is True and dashboards["resource"] in ("configmap", "both")
        assert config_map["metadata"]["labels"][dashboards["label"]] == dashboards["labelValue"]
        assert config_map["metadata"]["namespace"] == MONITORING  # the sidecar's own namespace

    def test_our_chart_admits_the_grafana_pods_of_this_release(self) -> None:
        labels = yaml.safe_load((CHART / "values.yaml").read_text())["observability"]["grafanaPodLabels"]
        release = re.search(r"upgrade --install (\S+) grafana ", OBSERVABILITY_MK.read_text()).group(1)
        assert labels == {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": release}


# --- k8s/observability.mk --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def makefile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("make") / "Makefile"
    path.write_text(TOP_LEVEL + f"include {OBSERVABILITY_MK}\n")
    return path


class TestObservabilityMk:
    def test_pinned_charts_from_their_repositories(self) -> None:
        assert re.fullmatch(r"\d+\.\d+\.\d+", mk_var("PROMETHEUS_CHART_VERSION"))
        assert re.fullmatch(r"\d+\.\d+\.\d+", mk_var("GRAFANA_CHART_VERSION"))
        assert mk_var("PROMETHEUS_CHART_REPO") == "https://prometheus-community.github.io/helm-charts"
        assert mk_var("GRAFANA_CHART_REPO") == "https://grafana-community.github.io/helm-charts"

    def test_steps_in_order(self, makefile: Path) -> None:
        out = dry_run(makefile, "observability")
        steps = [
            f"kubectl --context kind-starlink42k apply -f '{ROOT}/k8s/monitoring-namespace.yaml'",
            f"helm --kube-context kind-starlink42k upgrade --install starlink '{ROOT}/charts/starlink-platform' "
            "--namespace starlink --wait",
            "--set observability.enabled=true --set-string observability.namespace=monitoring",
            "helm --kube-context kind-starlink42k upgrade --install prometheus prometheus --repo "
            f"https://prometheus-community.github.io/helm-charts --version {mk_var('PROMETHEUS_CHART_VERSION')}",
            f"--namespace monitoring -f '{ROOT}/k8s/prometheus-values.yaml' --wait",
            "helm --kube-context kind-starlink42k upgrade --install grafana grafana --repo "
            f"https://grafana-community.github.io/helm-charts --version {mk_var('GRAFANA_CHART_VERSION')}",
            f"--namespace monitoring -f '{ROOT}/k8s/grafana-values.yaml' --wait",
            "get secret grafana -o jsonpath='{.data.admin-password}'",
            "Next: make port-forward",
        ]
        positions = [out.find(step) for step in steps]
        assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p < 0]
        assert positions == sorted(positions)

    def test_the_namespace_is_the_one_everything_names(self) -> None:
        (namespace,) = yaml.safe_load_all((K8S / "monitoring-namespace.yaml").read_text())
        assert namespace["metadata"]["name"] == MONITORING
        assert yaml.safe_load((CHART / "values.yaml").read_text())["observability"]["namespace"] == MONITORING
        assert re.search(rf"^MONITORING_NAMESPACE := {MONITORING}$", (K8S / "cluster.mk").read_text(), re.MULTILINE)
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
        assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"

    def test_down_removes_the_stack_and_turns_the_chart_objects_off(self, makefile: Path) -> None:
        out = dry_run(makefile, "observability-down")
        assert "uninstall grafana prometheus --namespace monitoring --ignore-not-found" in out
        upgrade = next(line for line in out.splitlines() if "upgrade --install starlink" in line)
        assert "observability" not in upgrade
        assert "delete namespace monitoring --ignore-not-found" in out

    def test_help_all_lists_both_targets(self, makefile: Path) -> None:
        out = run_make(makefile, "help-all").stdout
        for target in ("observability", "observability-down"):
            assert re.search(rf"^\s+{target}\s+\S", out, re.MULTILINE), target

    def test_port_forward_adds_grafana_when_installed(self, makefile: Path) -> None:
        out = dry_run(makefile, "port-forward")
        assert "-n monitoring get service grafana" in out
        assert "-n monitoring port-forward svc/grafana 3000:80" in out
        assert "Grafana        not installed: make observability" in out


@pytest.mark.cluster
@pytest.mark.parametrize("installed", [False, True])
def test_cluster_up_keeps_observability_while_the_stack_is_installed(
    fake_cluster: FakeClusterRun, installed: bool
) -> None:
    """Against the fake cluster: a release `prometheus` in namespace monitoring (as `make
    observability` leaves it) keeps the platform chart's observability objects on."""
    first = fake_cluster.make("cluster-up", "IMAGE_TAG=0bb0bb0bb0bb")
    assert first.returncode == 0, first.stdout + first.stderr
    if installed:
        fake_cluster.add_release("prometheus", MONITORING)
    seen = len(fake_cluster.calls())
    proc = fake_cluster.make("cluster-up", "IMAGE_TAG=0bb0bb0bb0bb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (upgrade,) = [c for c in fake_cluster.calls(seen) if "upgrade --install starlink" in c]
    assert ("--set observability.enabled=true --set-string observability.namespace=monitoring" in upgrade) is installed
    exporters = [o for o in fake_cluster.objects() if o["metadata"]["name"] == "starlink-warehouse-exporter"]
    assert bool(exporters) is installed


def test_the_pinned_airflow_chart_is_the_one_rendered(chart: Path, helm_bin: Path) -> None:  # noqa: F811
    """The statsd mappings the dashboard test reads come from this chart."""
    out = run_helm(helm_bin, "show", "chart", str(chart)).stdout
    assert yaml.safe_load(out)["name"] == "airflow"
