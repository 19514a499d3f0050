"""The starlink-platform chart with observability on and off (observability.enabled).

Off (the default), it renders nothing of it; on, it adds the warehouse's postgres_exporter, the
read-only warehouse role's hook Job, the dashboard ConfigMap and Grafana's datasource Secret in the
monitoring namespace, and the NetworkPolicies for exactly that traffic. Every object is validated
against the Kubernetes schemas of the kind node's version; the contracts are jmespath queries. The
hook Job's script then runs for real against PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jmespath
import kubernetes_validate
import psycopg
import pytest
import yaml
from k8s_helpers import CHART, GIVEN_CREDENTIALS, NAMESPACE, Render, decode, find, run_helm
from test_k8s_chart import PIPELINE_LABELS, containers, pod_specs, policies, selects

MONITORING = "monitoring"
ON = {"observability": {"enabled": True}}
PROMETHEUS = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/component": "server",
    "app.kubernetes.io/instance": "prometheus",
}
GRAFANA = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "grafana"}
DNS_PORTS = [53, 53]
EXPORTER, READER = "starlink-warehouse-exporter", "starlink-warehouse-reader"


@pytest.fixture(scope="module")
def on(render: Render, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(ON, tmp_path_factory.mktemp("observability"))


@pytest.fixture(scope="module")
def on_given(render: Render, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    values = {**GIVEN_CREDENTIALS, "observability": {"enabled": True, "reader": {"password": "reader-pass-123"}}}
    return render(values, tmp_path_factory.mktemp("observability-given"))


def names(objs: list[dict]) -> set[tuple[str, str, str]]:
    return {(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objs}


ADDED = {
    ("ServiceAccount", EXPORTER, NAMESPACE),
    ("Service", EXPORTER, NAMESPACE),
    ("Deployment", EXPORTER, NAMESPACE),
    ("NetworkPolicy", f"{EXPORTER}-ingress", NAMESPACE),
    ("NetworkPolicy", f"{EXPORTER}-egress", NAMESPACE),
    ("Secret", "warehouse-reader-credentials", NAMESPACE),
    ("ConfigMap", READER, NAMESPACE),
    ("ServiceAccount", READER, NAMESPACE),
    ("Job", READER, NAMESPACE),
    ("NetworkPolicy", "starlink-warehouse-observability-ingress", NAMESPACE),
    ("NetworkPolicy", f"{READER}-egress", NAMESPACE),
    ("Secret", "grafana-warehouse-datasource", MONITORING),
    ("ConfigMap", "starlink42k-dashboards", MONITORING),
}


class TestRender:
    def test_lint_strict_with_observability_on(self, helm_bin: Path, tmp_path: Path) -> None:
        values = tmp_path / "values.yaml"
        values.write_text(yaml.safe_dump(ON))
        out = run_helm(helm_bin, "lint", "--strict", str(CHART), "--values", str(values), "--namespace", NAMESPACE)
        assert "0 chart(s) failed" in out.stdout

    def test_off_by_default_and_on_adds_exactly_its_objects(self, objects: list[dict], on: list[dict]) -> None:
        assert yaml.safe_load((CHART / "values.yaml").read_text())["observability"]["enabled"] is False
        assert names(on) - names(objects) == ADDED
        assert names(objects) <= names(on)  # nothing of the platform goes away
        assert not [o for o in objects if o["metadata"]["namespace"] == MONITORING]

    @pytest.mark.parametrize("which", ["off", "on", "on_given"])
    def test_every_object_is_valid_kubernetes(
        self, which: str, objects: list[dict], on: list[dict], on_given: list[dict], kube_version: str
    ) -> None:
        objs = {"off": objects, "on": on, "on_given": on_given}[which]
        for obj in objs:
            try:
                kubernetes_validate.validate(obj, kube_version, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for {kube_version}: {err.message}")

    def test_every_object_is_labelled_part_of_the_project(self, on: list[dict]) -> None:
        for obj in on:
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "starlink42k", obj["metadata"]["name"]

    def test_schema_refuses_unknown_and_bad_values(self, helm_bin: Path, tmp_path: Path) -> None:
        for override, complaint in [
            ({"observability": {"enabled": True, "unknown": 1}}, "unknown"),
            ({"observability": {"exporter": {"image": {"tag": "latest"}}}}, "/observability/exporter/image/tag"),
            ({"observability": {"reader": {"user": "Robert'); drop"}}}, "/observability/reader/user"),
            ({"observability": {"reader": {"password": "short"}}}, "/observability/reader/password"),
        ]:
            values = tmp_path / "values.yaml"
            values.write_text(yaml.safe_dump(override))
            proc = run_helm(helm_bin, "template", "x", str(CHART), "--values", str(values), check=False)
            assert proc.returncode != 0 and complaint in proc.stderr, (override, proc.stderr)


class TestPodsAreRestricted:
    """Pod Security `restricted` (enforced in namespace starlink), field by field."""

    def test_every_pod_and_container(self, on: list[dict]) -> None:
        specs = dict(pod_specs(on))
        assert {f"Deployment/{EXPORTER}", f"Job/{READER}"} <= set(specs)
        for name, spec in specs.items():
            ctx = spec["securityContext"]
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] > 0, name
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", name
            assert spec["automountServiceAccountToken"] is False, name
            assert spec["serviceAccountName"] not in ("", "default"), name
            for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
                assert not spec.get(forbidden), (name, forbidden)
            for volume in spec.get("volumes", []):
                assert "hostPath" not in volume, name
                if "emptyDir" in volume:
                    assert volume["emptyDir"].get("sizeLimit"), name
            for container in containers(spec):
                c = container["securityContext"]
                where = f"{name}/{container['name']}"
                assert c["allowPrivilegeEscalation"] is False and c["readOnlyRootFilesystem"] is True, where
                assert c["runAsNonRoot"] is True and not c.get("privileged"), where
                assert c["capabilities"] == {"drop": ["ALL"]}, where
                assert c["seccompProfile"]["type"] == "RuntimeDefault", where
                assert container["imagePullPolicy"] == "IfNotPresent", where
                assert (
                    set(container["resources"]["requests"])
                    == set(container["resources"]["limits"])
                    == {
                        "cpu",
                        "memory",
                    }
                ), where
                assert "ports" not in container or all("hostPort" not in p for p in container["ports"]), where

    def test_no_observability_pod_is_a_pipeline_pod(self, on: list[dict]) -> None:
        """The pipeline label opens the stores to a pod; the exporter and the Job get their own rules."""
        for name in (f"Deployment/{EXPORTER}", f"Job/{READER}"):
            kind, _, obj = name.partition("/")
            assert "starlink42k/role" not in find(on, kind, obj)["spec"]["template"]["metadata"]["labels"], name


def secret_keys(objs: list[dict]) -> set[tuple[str, str, str]]:
    return {
        (o["metadata"]["namespace"], o["metadata"]["name"], key)
        for o in objs
        if o["kind"] == "Secret"
        for key in o["data"]
    }


class TestExporter:
    def test_pinned_image_port_and_service(self, on: list[dict]) -> None:
        deploy = find(on, "Deployment", EXPORTER)
        (container,) = deploy["spec"]["template"]["spec"]["containers"]
        assert re.fullmatch(r"quay\.io/prometheuscommunity/postgres-exporter:v\d+\.\d+\.\d+", container["image"])
        assert container["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]
        assert "--web.listen-address=:9187" in container["args"]
        # Only the default collectors: none switched off, none added (the dashboard test relies on it).
        assert not [a for a in container["args"] if a.startswith(("--no-collector", "--collector", "--extend"))]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/", "a probe must not query the warehouse"
        service = find(on, "Service", EXPORTER)
        assert jmespath.search("spec.ports[].[name, port, targetPort]", service) == [["metrics", 9187, "metrics"]]
        assert selects(service["spec"]["selector"], deploy["spec"]["template"]["metadata"]["labels"])

    def test_credentials_come_from_the_warehouse_secret(self, on: list[dict]) -> None:
        (container,) = find(on, "Deployment", EXPORTER)["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        refs = {
            n: tuple(jmespath.search("valueFrom.secretKeyRef.[name, key]", e))
            for n, e in env.items()
            if "valueFrom" in e
        }
        assert refs == {
            "WAREHOUSE_HOST": ("warehouse-credentials", "host"),
            "WAREHOUSE_PORT": ("warehouse-credentials", "port"),
            "WAREHOUSE_DB": ("warehouse-credentials", "dbname"),
            "DATA_SOURCE_USER": ("warehouse-credentials", "user"),
            "DATA_SOURCE_PASS": ("warehouse-credentials", "password"),
        }
        # Built from variables defined before it (Kubernetes expands only those), no TLS in the cluster.
        uri = env["DATA_SOURCE_URI"]["value"]
        assert uri == "$(WAREHOUSE_HOST):$(WAREHOUSE_PORT)/$(WAREHOUSE_DB)?sslmode=disable"
        order = [e["name"] for e in container["env"]]
        for var in re.findall(r"\$\((\w+)\)", uri):
            assert order.index(var) < order.index("DATA_SOURCE_URI"), var


class TestSecretsAndReader:
    def test_every_secret_reference_exists(self, on: list[dict]) -> None:
        keys = secret_keys(on)
        for name, spec in pod_specs(on):
            namespace = NAMESPACE
            for container in containers(spec):
                for env in container.get("env", []):
                    ref = jmespath.search("valueFrom.secretKeyRef", env)
                    if ref:
                        assert (namespace, ref["name"], ref["key"]) in keys, (name, env["name"])

    def test_reader_password_is_one_value_in_both_secrets(self, on: list[dict]) -> None:
        reader = find(on, "Secret", "warehouse-reader-credentials")
        grafana = find(on, "Secret", "grafana-warehouse-datasource")
        assert decode(reader, "user") == decode(grafana, "WAREHOUSE_READER_USER") == "grafana_reader"
        assert decode(reader, "password") == decode(grafana, "WAREHOUSE_READER_PASSWORD")
        assert len(decode(reader, "password")) >= 32
        assert decode(grafana, "WAREHOUSE_ADDRESS") == "starlink-warehouse.starlink.svc.cluster.local:5432"
        assert decode(grafana, "WAREHOUSE_DB") == "warehouse"
        pipeline = decode(find(on, "Secret", "warehouse-credentials"), "password")
        assert decode(reader, "password") != pipeline  # its own login, not the pipeline's
        for secret in (reader, grafana):
            assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    def test_reader_password_given_generated_and_kept(self, on: list[dict], on_given: list[dict], render) -> None:
        assert decode(find(on_given, "Secret", "warehouse-reader-credentials"), "password") == "reader-pass-123"
        template = (CHART / "templates" / "observability-grafana.yaml").read_text()
        assert 'lookup "v1" "Secret" $ns (include "starlink.secret.warehouseReader" .)' in template

    def test_no_secret_value_outside_secrets(self, on_given: list[dict]) -> None:
        values = {decode(s, k) for s in on_given if s["kind"] == "Secret" for k in s["data"] if "PASSWORD" in k.upper()}
        assert "reader-pass-123" in values
        for obj in on_given:
            if obj["kind"] != "Secret":
                text = yaml.safe_dump(obj)
                assert not [v for v in values if v in text], f"{obj['kind']}/{obj['metadata']['name']}"

    def test_the_reader_job_is_an_idempotent_hook_as_superuser(self, on: list[dict]) -> None:
        job = find(on, "Job", READER)
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        assert job["spec"]["activeDeadlineSeconds"] > 0
        (container,) = job["spec"]["template"]["spec"]["containers"]
        sts = find(on, "StatefulSet", "starlink-warehouse")
        assert container["image"] == sts["spec"]["template"]["spec"]["containers"][0]["image"]  # its psql
        env = {e["name"]: e for e in container["env"]}
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "starlink-warehouse-superuser"
        assert env["OWNER_USER"]["value"] == "pipeline"
        assert env["READER_SCHEMAS"]["value"].split() == ["raw", "marts"]


class TestDashboardConfigMap:
    def test_the_committed_json_labelled_for_grafanas_sidecar(self, on: list[dict]) -> None:
        config_map = find(on, "ConfigMap", "starlink42k-dashboards")
        assert config_map["metadata"]["namespace"] == MONITORING
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        (key, text), *_ = config_map["data"].items()
        assert key == "starlink42k.json" and len(config_map["data"]) == 1
        assert json.loads(text) == json.loads((CHART / "dashboards" / "starlink42k.json").read_text())


class TestNetworkPolicies:
    """Exactly the allowances observability needs, nothing wider."""

    def test_prometheus_alone_scrapes_the_exporter(self, on: list[dict]) -> None:
        spec = policies(on)[f"{EXPORTER}-ingress"]
        assert selects(spec["podSelector"]["matchLabels"], find(on, "Deployment", EXPORTER)["spec"]["template"]
                       ["metadata"]["labels"])  # fmt: skip
        assert spec["policyTypes"] == ["Ingress"]
        assert spec["ingress"] == [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING}},
                        "podSelector": {"matchLabels": PROMETHEUS},
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 9187}],
            }
        ]

    @pytest.mark.parametrize("policy", [f"{EXPORTER}-egress", f"{READER}-egress"])
    def test_exporter_and_job_reach_dns_and_the_warehouse_only(self, on: list[dict], policy: str) -> None:
        spec = policies(on)[policy]
        assert spec["policyTypes"] == ["Egress"]
        assert jmespath.search("egress[].ports[].port", spec) == [*DNS_PORTS, 5432]
        assert spec["egress"][1]["to"] == [
            {"podSelector": {"matchLabels": find(on, "Service", "starlink-warehouse")["spec"]["selector"]}}
        ]

    def test_the_warehouse_admits_exporter_job_and_grafana(self, on: list[dict]) -> None:
        spec = policies(on)["starlink-warehouse-observability-ingress"]
        warehouse_pods = find(on, "StatefulSet", "starlink-warehouse")["spec"]["template"]["metadata"]["labels"]
        assert selects(spec["podSelector"]["matchLabels"], warehouse_pods)
        (rule,) = spec["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]
        exporter = find(on, "Deployment", EXPORTER)["spec"]["template"]["metadata"]["labels"]
        job = find(on, "Job", READER)["spec"]["template"]["metadata"]["labels"]
        peers = rule["from"]
        assert len(peers) == 3
        assert selects(peers[0]["podSelector"]["matchLabels"], exporter) and set(peers[0]) == {"podSelector"}
        assert selects(peers[1]["podSelector"]["matchLabels"], job) and set(peers[1]) == {"podSelector"}
        assert not selects(peers[0]["podSelector"]["matchLabels"], job)
        assert peers[2] == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING}},
            "podSelector": {"matchLabels": GRAFANA},
        }

    def test_the_platforms_policies_are_unchanged(self, objects: list[dict], on: list[dict]) -> None:
        before, after = policies(objects), policies(on)
        assert {name: after[name] for name in before} == before
        assert before["starlink-warehouse-ingress"]["ingress"][0]["from"] == [
            {"podSelector": {"matchLabels": PIPELINE_LABELS}}
        ]

    def test_no_peer_is_a_whole_namespace_or_an_ip_block(self, on: list[dict]) -> None:
        for name, spec in policies(on).items():
            if name not in {p for _, p, _ in ADDED}:
                continue
            for rule in spec.get("ingress", []) + spec.get("egress", []):
                for peer in rule.get("from", []) + rule.get("to", []):
                    assert "ipBlock" not in peer, name
                    assert peer.get("podSelector", {}).get("matchLabels"), (name, peer)


# --- the hook Job's script, for real ------------------------------------------------------------


def psql_dir() -> str:
    pgserver = pytest.importorskip("pgserver")
    return str(Path(pgserver.__file__).parent / "pginstall" / "bin")


def run_reader_script(script: str, warehouse_url: str, reader: str, password: str, tmp: Path) -> None:
    """The Job's script, as its container runs it: superuser login, the owner and reader from env."""
    path = tmp / "reader.sh"
    path.write_text(script)
    url = urlsplit(warehouse_url)
    env = {
        "PATH": f"{psql_dir()}:{os.environ['PATH']}",
        "PGHOST": parse_qs(url.query)["host"][0],
        "PGPORT": "5432",
        "PGDATABASE": url.path.lstrip("/"),
        "PGUSER": url.username or "postgres",
        "OWNER_USER": url.username or "postgres",
        "READER_USER": reader,
        "READER_PASSWORD": password,
        "READER_SCHEMAS": "raw marts",
        "HOME": str(tmp),
    }
    proc = subprocess.run(["bash", str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"role {reader} reads schemas raw marts" in proc.stdout


def reader_script(objs: list[dict]) -> str:
    return find(objs, "ConfigMap", READER)["data"]["reader.sh"]


def reader_url(warehouse_url: str, reader: str) -> str:
    return warehouse_url.replace("postgres@", f"{reader}@", 1)


def drop_role(warehouse_url: str, reader: str) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f'drop owned by "{reader}" cascade')
        conn.execute(f'drop role "{reader}"')


def test_the_reader_script_makes_a_read_only_role_and_can_run_again(on: list[dict], warehouse_url: str, tmp_path):
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    script = reader_script(on)
    try:
        run_reader_script(script, warehouse_url, reader, "first; DROP ROLE x; --'", tmp_path)
        run_reader_script(script, warehouse_url, reader, "second-password", tmp_path)  # an upgrade: idempotent
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            login, limit, superuser, createrole = conn.execute(
                "select rolcanlogin, rolconnlimit, rolsuper, rolcreaterole from pg_roles where rolname = %s", (reader,)
            ).fetchone()
            assert (login, limit, superuser, createrole) == (True, 5, False, False)
            settings = conn.execute(
                "select s.setconfig from pg_db_role_setting as s join pg_roles as r on r.oid = s.setrole"
                " where r.rolname = %s",
                (reader,),
            ).fetchone()[0]
            assert "default_transaction_read_only=on" in settings
            # Tables the pipeline creates after the Job ran: readable through default privileges.
            conn.execute("create table raw.load_log_like (n int)")
            conn.execute("create schema if not exists marts")
            conn.execute("create table marts.a_mart (n int)")
            conn.execute("insert into marts.a_mart values (42)")
            conn.execute("create schema staging")
            conn.execute("create table staging.not_for_grafana (n int)")
        with psycopg.connect(reader_url(warehouse_url, reader), autocommit=True) as conn:
            assert conn.execute("select n from marts.a_mart").fetchall() == [(42,)]
            assert conn.execute("select count(*) from raw.load_log_like").fetchone() == (0,)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("insert into marts.a_mart values (1)")
            conn.execute("set default_transaction_read_only = off")  # even then: no write privilege
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("insert into marts.a_mart values (1)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("create table marts.mine (n int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select * from staging.not_for_grafana")
    finally:
        drop_role(warehouse_url, reader)
