"""The starlink-platform chart: lint, render, validate every object, then check each component.

Objects are queried with jmespath, in small classes per component (the practice of the
official Airflow chart's helm-tests).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import jmespath
import jsonschema
import kubernetes_validate
import pytest
import yaml
from k8s_helpers import (
    AIRFLOW_NAMESPACE,
    CHART,
    GIVEN_CREDENTIALS,
    NAMESPACE,
    Render,
    decode,
    find,
    run_helm,
)

WORKLOAD_KINDS = ("StatefulSet", "Deployment", "DaemonSet", "Job", "CronJob")
PIPELINE_LABELS = {"starlink42k/role": "pipeline"}


def pod_specs(objs: list[dict]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload."""
    specs = []
    for obj in objs:
        if obj["kind"] in WORKLOAD_KINDS:
            spec = jmespath.search("spec.jobTemplate.spec.template.spec || spec.template.spec", obj)
            specs.append((f"{obj['kind']}/{obj['metadata']['name']}", spec))
    return specs


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return jmespath.search("[initContainers[], containers[]][]", spec) or []


def pod_labels(objs: list[dict], kind: str, name: str) -> dict[str, str]:
    return find(objs, kind, name)["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --- the chart as a whole ------------------------------------------------------------------------


class TestLintAndRender:
    def test_lint_strict(self, helm_bin: Path) -> None:
        out = run_helm(helm_bin, "lint", "--strict", str(CHART), "--namespace", NAMESPACE)
        assert "0 chart(s) failed" in out.stdout

    def test_lint_strict_with_given_credentials(self, helm_bin: Path, tmp_path: Path) -> None:
        values = tmp_path / "values.yaml"
        values.write_text(yaml.safe_dump(GIVEN_CREDENTIALS))
        run_helm(helm_bin, "lint", "--strict", str(CHART), "--values", str(values))

    def test_renders_the_expected_objects(self, objects: list[dict]) -> None:
        kinds = sorted({o["kind"] for o in objects})
        assert kinds == sorted(
            [
                "ConfigMap",
                "CronJob",
                "Job",
                "NetworkPolicy",
                "Role",
                "RoleBinding",
                "Secret",
                "Service",
                "ServiceAccount",
                "StatefulSet",
            ]
        )

    @pytest.mark.parametrize("which", ["default", "given"])
    def test_every_object_is_valid_kubernetes(
        self, which: str, objects: list[dict], objects_given: list[dict], kube_version: str
    ) -> None:
        objs = objects if which == "default" else objects_given
        for obj in objs:
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            try:
                kubernetes_validate.validate(obj, kube_version, strict=True)
            except kubernetes_validate.ValidationError as err:
                path = ".".join(str(p) for p in err.path)
                pytest.fail(f"{name} is invalid for Kubernetes {kube_version} at {path}: {err.message}")
            except kubernetes_validate.SchemaNotFoundError as err:
                pytest.fail(f"{name}: {err.message}")

    def test_objects_are_namespaced_explicitly(self, objects: list[dict]) -> None:
        """Everything lands in the release namespace except the Airflow Secrets and the settings
        ConfigMap's second copy, which the Airflow components read."""
        for obj in objects:
            ns = obj["metadata"].get("namespace")
            if obj["kind"] == "Secret" and obj["metadata"]["name"].startswith("airflow-"):
                assert ns == AIRFLOW_NAMESPACE, obj["metadata"]["name"]
            elif obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "pipeline-settings":
                assert ns in (NAMESPACE, AIRFLOW_NAMESPACE)
            else:
                assert ns == NAMESPACE, f"{obj['kind']}/{obj['metadata']['name']}"

    def test_every_object_is_labelled_part_of_the_project(self, objects: list[dict]) -> None:
        for obj in objects:
            labels = obj["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/part-of") == "starlink42k", obj["metadata"]["name"]

    def test_values_schema_is_strict(self) -> None:
        schema = json.loads((CHART / "values.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))

        def objects_without_closed_properties(node: Any, path: str) -> list[str]:
            found = []
            if isinstance(node, dict):
                if "properties" in node and node.get("additionalProperties") is not False:
                    found.append(path)
                for key, value in node.items():
                    found += objects_without_closed_properties(value, f"{path}/{key}")
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    found += objects_without_closed_properties(value, f"{path}/{i}")
            return found

        assert objects_without_closed_properties(schema, "") == []

    @pytest.mark.parametrize(
        ("override", "complaint"),
        [
            ({"minio": {"image": {"tag": "latest"}}}, "/minio/image/tag"),
            ({"warehouse": {"image": {"tag": ""}}}, "/warehouse/image/tag"),
            ({"unknownKey": 1}, "unknownKey"),
            ({"airflowSecrets": {"fernetKey": "not-a-fernet-key"}}, "/airflowSecrets/fernetKey"),
            ({"warehouse": {"auth": {"password": "short"}}}, "/warehouse/auth/password"),
        ],
    )
    def test_schema_refuses_bad_values(self, helm_bin: Path, tmp_path: Path, override: dict, complaint: str) -> None:
        values = tmp_path / "values.yaml"
        values.write_text(yaml.safe_dump(override))
        proc = run_helm(helm_bin, "template", "x", str(CHART), "--values", str(values), check=False)
        assert proc.returncode != 0
        assert complaint in proc.stderr


# --- StatefulSets ------------------------------------------------------------------------------


class TestStatefulSets:
    @pytest.mark.parametrize("name", ["starlink-minio", "starlink-warehouse"])
    def test_storage_comes_from_volume_claim_templates(self, objects: list[dict], name: str) -> None:
        sts = find(objects, "StatefulSet", name)
        claims = jmespath.search("spec.volumeClaimTemplates", sts)
        assert claims and len(claims) == 1
        claim = claims[0]
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert claim["spec"]["storageClassName"] == "standard"  # kind's local-path class
        assert re.fullmatch(r"\d+Gi", claim["spec"]["resources"]["requests"]["storage"])
        mounted = jmespath.search("spec.template.spec.containers[].volumeMounts[].name", sts)
        assert claim["metadata"]["name"] in mounted
        # Only stable labels on the (immutable) claim template: no chart version.
        assert "helm.sh/chart" not in claim["metadata"].get("labels", {})
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }

    @pytest.mark.parametrize("name", ["starlink-minio", "starlink-warehouse"])
    def test_probes_and_resources(self, objects: list[dict], name: str) -> None:
        sts = find(objects, "StatefulSet", name)
        for container in sts["spec"]["template"]["spec"]["containers"]:
            assert container.get("livenessProbe"), f"{name}/{container['name']}: no livenessProbe"
            assert container.get("readinessProbe"), f"{name}/{container['name']}: no readinessProbe"
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, (name, kind)

    @pytest.mark.parametrize("name", ["starlink-minio", "starlink-warehouse"])
    def test_governing_service_is_headless_and_selects_the_pods(self, objects: list[dict], name: str) -> None:
        sts = find(objects, "StatefulSet", name)
        service = find(objects, "Service", sts["spec"]["serviceName"])
        assert service["spec"]["clusterIP"] == "None"
        assert selects(service["spec"]["selector"], sts["spec"]["template"]["metadata"]["labels"])
        assert selects(sts["spec"]["selector"]["matchLabels"], sts["spec"]["template"]["metadata"]["labels"])


class TestWarehouse:
    def test_service_contract(self, objects: list[dict]) -> None:
        service = find(objects, "Service", "starlink-warehouse")
        assert jmespath.search("spec.ports[].port", service) == [5432]
        assert selects(service["spec"]["selector"], pod_labels(objects, "StatefulSet", "starlink-warehouse"))

    def test_official_image_pinned(self, objects: list[dict]) -> None:
        image = jmespath.search(
            "spec.template.spec.containers[0].image", find(objects, "StatefulSet", "starlink-warehouse")
        )
        assert re.fullmatch(r"postgres:\d+\.\d+-bookworm", image)

    def test_database_and_role_setup(self, objects: list[dict]) -> None:
        sts = find(objects, "StatefulSet", "starlink-warehouse")
        env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["POSTGRES_DB"]["value"] == "warehouse"
        assert env["PIPELINE_USER"]["value"] == "pipeline"
        assert env["PIPELINE_SCHEMAS"]["value"].split() == ["raw", "analytics"]
        assert env["PIPELINE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "warehouse-credentials",
            "key": "password",
        }
        assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "starlink-warehouse-superuser"
        assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")  # a subdirectory of the volume

    def test_init_script_is_mounted_executable(self, objects: list[dict]) -> None:
        sts = find(objects, "StatefulSet", "starlink-warehouse")
        volume = jmespath.search("spec.template.spec.volumes[?name=='initdb'] | [0]", sts)
        config_map = find(objects, "ConfigMap", volume["configMap"]["name"])
        assert volume["configMap"]["defaultMode"] == 0o555
        mounts = jmespath.search("spec.template.spec.containers[0].volumeMounts[?name=='initdb'] | [0]", sts)
        assert mounts["mountPath"] == "/docker-entrypoint-initdb.d"
        (script,) = config_map["data"].values()
        assert script.startswith("#!/usr/bin/env bash")
        assert 'OWNER TO :"role"' in script
        assert 'AUTHORIZATION :"role"' in script
        # The password comes from the environment, never from the ConfigMap or a command line.
        assert "\\getenv password PIPELINE_PASSWORD" in script

    def test_read_only_root_has_writable_runtime_dirs(self, objects: list[dict]) -> None:
        sts = find(objects, "StatefulSet", "starlink-warehouse")
        mounts = jmespath.search("spec.template.spec.containers[0].volumeMounts[].mountPath", sts)
        for path in ("/var/lib/postgresql/data", "/var/run/postgresql", "/tmp", "/dev/shm"):
            assert path in mounts


class TestMinio:
    def test_service_contract(self, objects: list[dict]) -> None:
        service = find(objects, "Service", "starlink-minio")
        assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"s3": 9000, "console": 9001}
        assert selects(service["spec"]["selector"], pod_labels(objects, "StatefulSet", "starlink-minio"))

    def test_root_credentials_from_the_root_secret_only(self, objects: list[dict]) -> None:
        """The root's keys reach MinIO and the hook that creates the identities, nothing else."""
        sts = find(objects, "StatefulSet", "starlink-minio")
        env = {e["name"]: e for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["MINIO_ROOT_USER"]["valueFrom"]["secretKeyRef"] == {
            "name": "starlink-minio-root",
            "key": "access-key-id",
        }
        assert env["MINIO_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "starlink-minio-root",
            "key": "secret-access-key",
        }
        readers = {
            name
            for name, spec in pod_specs(objects)
            for c in containers(spec)
            for e in c.get("env", [])
            if (e.get("valueFrom") or {}).get("secretKeyRef", {}).get("name") == "starlink-minio-root"
        }
        assert readers == {"StatefulSet/starlink-minio", "Job/starlink-minio-buckets"}, readers

    def test_bucket_job_is_an_idempotent_hook(self, objects: list[dict]) -> None:
        job = find(objects, "Job", "starlink-minio-buckets")
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        script = " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
        assert "mb --ignore-existing" in script
        env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["BUCKETS"]["value"].split() == ["starlink-lake", "airflow-logs", "starlink-lake-backup"]
        assert job["spec"]["activeDeadlineSeconds"] > 0


# --- security ----------------------------------------------------------------------------------


class TestSecurityContexts:
    def test_every_pod_is_non_root_with_seccomp(self, objects: list[dict]) -> None:
        specs = pod_specs(objects)
        # MinIO, the warehouse, the buckets Job, the two backup CronJobs, Airflow's database Job
        assert len(specs) == 6
        for name, spec in specs:
            ctx = spec["securityContext"]
            assert ctx["runAsNonRoot"] is True, name
            assert ctx["runAsUser"] > 0, name
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", name
            assert spec["automountServiceAccountToken"] is False, name
            assert spec["serviceAccountName"] not in ("", "default"), name
            for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
                assert not spec.get(forbidden), (name, forbidden)

    def test_every_container_is_hardened(self, objects: list[dict]) -> None:
        for name, spec in pod_specs(objects):
            for container in containers(spec):
                ctx = container["securityContext"]
                where = f"{name}/{container['name']}"
                assert ctx["allowPrivilegeEscalation"] is False, where
                assert ctx["readOnlyRootFilesystem"] is True, where
                assert ctx["runAsNonRoot"] is True, where
                assert ctx["capabilities"]["drop"] == ["ALL"], where
                assert not ctx["capabilities"].get("add"), where
                assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
                assert not ctx.get("privileged"), where

    def test_writable_paths_are_bounded_empty_dirs(self, objects: list[dict]) -> None:
        for name, spec in pod_specs(objects):
            for volume in spec.get("volumes", []):
                if "emptyDir" in volume:
                    assert volume["emptyDir"].get("sizeLimit"), f"{name}: emptyDir {volume['name']} unbounded"


class TestImages:
    def test_every_image_is_pinned_by_tag(self, objects: list[dict]) -> None:
        images = [c["image"] for _, spec in pod_specs(objects) for c in containers(spec)]
        assert images
        for image in images:
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{image}: no tag"
            assert tag != "latest", f"{image}: latest is not a pin"

    def test_pull_policy_if_not_present(self, objects: list[dict]) -> None:
        for name, spec in pod_specs(objects):
            for container in containers(spec):
                assert container["imagePullPolicy"] == "IfNotPresent", f"{name}/{container['name']}"


# --- secrets -----------------------------------------------------------------------------------


def secrets_by_name(objs: list[dict]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}


class TestSecrets:
    CONTRACT: ClassVar[dict[tuple[str, str], set[str]]] = {
        ("starlink", "warehouse-credentials"): {"host", "port", "dbname", "user", "password", "url"},
        ("starlink", "lake-credentials"): {"access-key-id", "secret-access-key", "endpoint-url", "lake-url"},
        ("starlink", "starlink-minio-root"): {"access-key-id", "secret-access-key"},
        ("starlink", "starlink-minio-airflow"): {"access-key-id", "secret-access-key"},
        ("starlink", "starlink-minio-backup"): {"access-key-id", "secret-access-key", "endpoint-url"},
        ("airflow", "airflow-metadata"): {"connection"},
        ("airflow", "airflow-fernet-key"): {"fernet-key"},
        ("airflow", "airflow-api-secret-key"): {"api-secret-key"},
        ("airflow", "airflow-jwt-secret"): {"jwt-secret"},
        ("airflow", "airflow-lake-connection"): {"connection"},
    }

    def test_names_namespaces_and_keys(self, objects: list[dict]) -> None:
        secrets = secrets_by_name(objects)
        for (namespace, name), keys in self.CONTRACT.items():
            secret = secrets[name]
            assert secret["metadata"]["namespace"] == namespace, name
            assert keys <= set(secret["data"]), f"{name}: missing {keys - set(secret['data'])}"
            assert secret["type"] == "Opaque"

    def test_warehouse_credentials(self, objects: list[dict]) -> None:
        secret = secrets_by_name(objects)["warehouse-credentials"]
        assert decode(secret, "host") == "starlink-warehouse.starlink.svc.cluster.local"
        assert decode(secret, "port") == "5432"
        assert decode(secret, "dbname") == "warehouse"
        assert decode(secret, "user") == "pipeline"
        url = urlsplit(decode(secret, "url"))
        assert url.scheme == "postgresql"
        assert (url.hostname, url.port, url.path) == (
            "starlink-warehouse.starlink.svc.cluster.local",
            5432,
            "/warehouse",
        )
        assert url.username == "pipeline"
        assert unquote(url.password or "") == decode(secret, "password")

    def test_lake_credentials(self, objects: list[dict]) -> None:
        secret = secrets_by_name(objects)["lake-credentials"]
        assert decode(secret, "endpoint-url") == "http://starlink-minio.starlink.svc.cluster.local:9000"
        assert decode(secret, "lake-url") == "s3://starlink-lake"
        assert len(decode(secret, "secret-access-key")) >= 8  # MinIO refuses shorter root passwords

    def test_airflow_lake_connection_is_airflows_identity(self, objects: list[dict]) -> None:
        secrets = secrets_by_name(objects)
        conn = json.loads(decode(secrets["airflow-lake-connection"], "connection"))
        airflow = secrets["starlink-minio-airflow"]
        assert conn["conn_type"] == "aws"
        assert conn["login"] == decode(airflow, "access-key-id")
        assert conn["password"] == decode(airflow, "secret-access-key")
        assert conn["extra"]["endpoint_url"] == decode(secrets["lake-credentials"], "endpoint-url")

    def test_every_identity_has_its_own_keys(self, objects: list[dict]) -> None:
        secrets = secrets_by_name(objects)
        names = ("starlink-minio-root", "lake-credentials", "starlink-minio-airflow", "starlink-minio-backup")
        keys = [decode(secrets[n], "access-key-id") for n in names]
        assert len(set(keys)) == len(names), keys
        assert len({decode(secrets[n], "secret-access-key") for n in names}) == len(names)

    def test_airflows_metadata_connection(self, objects: list[dict]) -> None:
        secrets = secrets_by_name(objects)
        url = urlsplit(decode(secrets["airflow-metadata"], "connection"))
        assert (url.scheme, url.hostname, url.port, url.path) == (
            "postgresql", "starlink-warehouse.starlink.svc.cluster.local", 5432, "/airflow",
        )  # fmt: skip
        assert url.username == "airflow" != decode(secrets["warehouse-credentials"], "user")
        assert unquote(url.password or "") == decode(secrets["starlink-warehouse-airflow-db"], "password")

    def test_fernet_key_is_valid(self, objects: list[dict]) -> None:
        key = decode(secrets_by_name(objects)["airflow-fernet-key"], "fernet-key")
        assert len(base64.urlsafe_b64decode(key.encode())) == 32
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}=", key)

    def test_generated_anew_on_every_render(self, render: Render, objects: list[dict]) -> None:
        """Without a cluster `lookup` finds nothing, so each render draws new random values."""
        again = secrets_by_name(render())
        first = secrets_by_name(objects)
        for name, key in [
            ("warehouse-credentials", "password"),
            ("starlink-warehouse-superuser", "password"),
            ("lake-credentials", "access-key-id"),
            ("lake-credentials", "secret-access-key"),
            ("airflow-fernet-key", "fernet-key"),
            ("airflow-api-secret-key", "api-secret-key"),
            ("airflow-jwt-secret", "jwt-secret"),
        ]:
            assert decode(first[name], key) != decode(again[name], key), (name, key)

    def test_given_values_are_used(self, objects_given: list[dict]) -> None:
        secrets = secrets_by_name(objects_given)
        given = GIVEN_CREDENTIALS
        assert decode(secrets["warehouse-credentials"], "password") == given["warehouse"]["auth"]["password"]
        url = urlsplit(decode(secrets["warehouse-credentials"], "url"))
        assert unquote(url.password or "") == given["warehouse"]["auth"]["password"]  # escaped in the URL
        assert (
            decode(secrets["starlink-warehouse-superuser"], "password")
            == given["warehouse"]["auth"]["superuserPassword"]
        )
        # minio.auth is the root's; the clients' identities are generated.
        root = secrets["starlink-minio-root"]
        assert decode(root, "access-key-id") == given["minio"]["auth"]["accessKeyId"]
        assert decode(root, "secret-access-key") == given["minio"]["auth"]["secretAccessKey"]
        assert decode(secrets["lake-credentials"], "access-key-id") != given["minio"]["auth"]["accessKeyId"]
        for name, key, value in [
            ("airflow-fernet-key", "fernet-key", "fernetKey"),
            ("airflow-api-secret-key", "api-secret-key", "apiSecretKey"),
            ("airflow-jwt-secret", "jwt-secret", "jwtSecret"),
        ]:
            assert decode(secrets[name], key) == given["airflowSecrets"][value]

    def test_kept_across_upgrades_and_uninstall(self, objects: list[dict]) -> None:
        for secret in secrets_by_name(objects).values():
            assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        # Generated values survive `helm upgrade` because the template reads the live Secret.
        # Each generated Secret is looked up by the helper that names it (the lake connection in
        # Airflow's namespace is derived from the lake's keys, not generated).
        template = (CHART / "templates" / "secrets.yaml").read_text()
        named = set(re.findall(r'^  name: \{\{ include "(starlink\.secret\.\w+)" \. \}\}$', template, re.M))
        assert len(named) == 12, named
        # The two connections in Airflow's namespace are derived from stored keys, not generated.
        for helper in named - {"starlink.secret.lakeConnection", "starlink.secret.airflowMetadata"}:
            assert re.search(rf'lookup "v1" "Secret" \$\w+ \(include "{re.escape(helper)}" \.\)', template), helper


class TestNoPlaintextSecrets:
    def secret_values(self, objs: list[dict]) -> set[str]:
        values = set()
        for secret in secrets_by_name(objs).values():
            for key in (
                "password",
                "access-key-id",
                "secret-access-key",
                "fernet-key",
                "api-secret-key",
                "jwt-secret",
            ):
                if key in secret["data"]:
                    values.add(decode(secret, key))
        return values

    @pytest.mark.parametrize("which", ["default", "given"])
    def test_not_in_config_maps_or_env(self, which: str, objects: list[dict], objects_given: list[dict]) -> None:
        objs = objects if which == "default" else objects_given
        values = self.secret_values(objs)
        assert len(values) >= 7
        for obj in objs:
            if obj["kind"] == "Secret":
                continue
            text = yaml.safe_dump(obj)
            for value in values:
                assert value not in text, f"a secret value appears in {obj['kind']}/{obj['metadata']['name']}"

    def test_credentials_come_through_secret_key_refs(self, objects: list[dict]) -> None:
        sensitive = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|TOKEN", re.IGNORECASE)
        for name, spec in pod_specs(objects):
            for container in containers(spec):
                for env in container.get("env", []):
                    if sensitive.search(env["name"]):
                        assert "value" not in env, f"{name}: {env['name']} is a literal"
                        assert env["valueFrom"]["secretKeyRef"]["name"], f"{name}: {env['name']}"


# --- RBAC and service accounts -------------------------------------------------------------------


class TestRbac:
    def test_role_grants_pods_only_in_the_release_namespace(self, objects: list[dict]) -> None:
        assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
        role = find(objects, "Role", "starlink-pod-launcher")
        assert role["metadata"]["namespace"] == "starlink"
        rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
        assert rules == {
            (("",), ("pods",)): {"create", "get", "list", "watch", "delete", "patch"},
            (("",), ("pods/log",)): {"get"},
            (("",), ("events",)): {"list", "watch"},
        }

    def test_binding_lets_only_the_airflow_workers_use_it(self, objects: list[dict]) -> None:
        """Least privilege: the workers run the KubernetesPodOperator; nothing else of Airflow
        starts, watches or deletes pods here (cosmos' watcher sensors read XComs)."""
        binding = find(objects, "RoleBinding", "starlink-pod-launcher")
        assert binding["metadata"]["namespace"] == "starlink"
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "starlink-pod-launcher",
        }
        subjects = {(s["kind"], s["namespace"], s["name"]) for s in binding["subjects"]}
        assert subjects == {("ServiceAccount", "airflow", "airflow-worker")}

    def test_pipeline_service_account_has_no_token(self, objects: list[dict]) -> None:
        sa = find(objects, "ServiceAccount", "starlink-pipeline")
        assert sa["metadata"]["namespace"] == "starlink"
        assert sa["automountServiceAccountToken"] is False

    def test_no_service_account_mounts_a_token(self, objects: list[dict]) -> None:
        for sa in (o for o in objects if o["kind"] == "ServiceAccount"):
            assert sa["automountServiceAccountToken"] is False, sa["metadata"]["name"]


# --- network policies ------------------------------------------------------------------------------


def policies(objs: list[dict]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "NetworkPolicy"}


class TestNetworkPolicies:
    AIRFLOW_NS: ClassVar[dict[str, str]] = {"kubernetes.io/metadata.name": "airflow"}

    def test_default_deny_both_directions(self, objects: list[dict]) -> None:
        deny = policies(objects)["starlink-default-deny"]
        assert deny["podSelector"] == {}
        assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
        assert "ingress" not in deny and "egress" not in deny

    @pytest.mark.parametrize(
        ("policy", "workload", "port", "airflow_too"),
        [
            # Airflow never connects to the warehouse; it reads task logs and docs from MinIO.
            ("starlink-warehouse-ingress", "starlink-warehouse", 5432, False),
            ("starlink-minio-ingress", "starlink-minio", 9000, True),
        ],
    )
    def test_store_ingress(self, objects: list[dict], policy: str, workload: str, port: int, airflow_too: bool) -> None:
        spec = policies(objects)[policy]
        assert selects(spec["podSelector"]["matchLabels"], pod_labels(objects, "StatefulSet", workload))
        assert spec["policyTypes"] == ["Ingress"]
        (rule,) = spec["ingress"]
        assert jmespath.search("ports[].port", rule) == [port]
        peers = rule["from"]
        assert {"podSelector": {"matchLabels": PIPELINE_LABELS}} in peers
        assert ({"namespaceSelector": {"matchLabels": self.AIRFLOW_NS}} in peers) is airflow_too
        # Nothing else: no ipBlock, no namespace-wide or cluster-wide peer.
        for peer in peers:
            assert "ipBlock" not in peer
            assert peer.get("podSelector", {"matchLabels": {"x": "y"}}).get("matchLabels"), peer

    def test_bucket_job_reaches_minio_only(self, objects: list[dict]) -> None:
        job_labels = find(objects, "Job", "starlink-minio-buckets")["spec"]["template"]["metadata"]["labels"]
        minio_peers = policies(objects)["starlink-minio-ingress"]["ingress"][0]["from"]
        assert any(selects(p.get("podSelector", {}).get("matchLabels", {"-": "-"}), job_labels) for p in minio_peers)
        warehouse_peers = policies(objects)["starlink-warehouse-ingress"]["ingress"][0]["from"]
        assert not any(
            "podSelector" in p and selects(p["podSelector"]["matchLabels"], job_labels) for p in warehouse_peers
        )
        egress = policies(objects)["starlink-minio-buckets-egress"]
        assert selects(egress["podSelector"]["matchLabels"], job_labels)
        assert jmespath.search("egress[].ports[].port", egress) == [53, 53, 9000]

    def test_pipeline_egress(self, objects: list[dict]) -> None:
        spec = policies(objects)["starlink-pipeline-egress"]
        assert spec["podSelector"] == {"matchLabels": PIPELINE_LABELS}
        assert spec["policyTypes"] == ["Egress"]
        rules = spec["egress"]
        dns = rules[0]
        assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
        assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
        assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]
        by_port = {r["ports"][0]["port"]: r for r in rules[1:]}
        assert set(by_port) == {5432, 9000, 443}
        assert selects(
            by_port[5432]["to"][0]["podSelector"]["matchLabels"],
            pod_labels(objects, "StatefulSet", "starlink-warehouse"),
        )
        assert selects(
            by_port[9000]["to"][0]["podSelector"]["matchLabels"],
            pod_labels(objects, "StatefulSet", "starlink-minio"),
        )
        internet = by_port[443]["to"][0]["ipBlock"]
        assert internet["cidr"] == "0.0.0.0/0"
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(internet["except"])

    def test_stores_are_not_pipeline_pods(self, objects: list[dict]) -> None:
        """The pipeline label is the key to the stores; nothing of the chart wears it."""
        for name, _ in pod_specs(objects):
            kind, _, obj_name = name.partition("/")
            obj = find(objects, kind, obj_name)
            labels = jmespath.search("(spec.jobTemplate.spec || spec).template.metadata.labels", obj)
            assert labels.get("starlink42k/role") in (None, "backup"), name
