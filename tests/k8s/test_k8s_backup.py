"""The chart's backups (templates/backup.yaml): two CronJobs, rendered on and off and validated,
their security and network policies checked, and their shell scripts run for real: the dump with
PostgreSQL's own pg_dump against the test database, the uploads against a stand-in `mc` that
records every call and keeps its "buckets" in a folder (there is no mc binary or cluster here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jmespath
import kubernetes_validate
import pytest
import yaml
from k8s_helpers import CHART, Render, find, run_helm

WAREHOUSE_CRON, LAKE_CRON = "starlink-backup-warehouse", "starlink-backup-lake"
BACKUP_ROLE = {"starlink42k/role": "backup"}
DNS = ("kube-dns", 53)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return jmespath.search("(spec.jobTemplate.spec || spec).template.spec", workload)


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return jmespath.search("(spec.jobTemplate.spec || spec).template.metadata.labels", obj)


def container(cron: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod_spec(cron)
    (found,) = [c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == name]
    return found


def script(cron: dict[str, Any], name: str, scratch: Path | None = None) -> str:
    c = container(cron, name)
    assert c["command"] == ["/bin/sh", "-ec"]
    (text,) = c["args"]
    return text.replace("/backup", str(scratch)) if scratch else text


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module")
def objects_off(render: Render, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return render({"backup": {"enabled": False}}, tmp_path_factory.mktemp("off"))


# --- rendered, on and off ----------------------------------------------------------------------------


class TestRender:
    def test_on_by_default_off_on_request(self, objects: list[dict], objects_off: list[dict]) -> None:
        names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        backup = {
            ("ServiceAccount", "starlink-backup"),
            ("CronJob", WAREHOUSE_CRON),
            ("CronJob", LAKE_CRON),
            ("NetworkPolicy", "starlink-backup-egress"),
            ("NetworkPolicy", "starlink-backup-warehouse-egress"),
            ("NetworkPolicy", "starlink-minio-backup-ingress"),
            ("NetworkPolicy", "starlink-warehouse-backup-ingress"),
            ("Secret", "starlink-minio-backup"),
        }
        assert backup <= names
        assert names - {(o["kind"], o["metadata"]["name"]) for o in objects_off} == backup
        off_buckets = container(find(objects_off, "Job", "starlink-minio-buckets"), "mc")
        assert {e["name"]: e.get("value") for e in off_buckets["env"]}["BUCKETS"] == "starlink-lake airflow-logs"

    def test_every_object_is_valid_kubernetes_when_off(self, objects_off: list[dict], kube_version: str) -> None:
        for obj in objects_off:  # the default render (on) is validated in test_k8s_chart.py
            kubernetes_validate.validate(obj, kube_version, strict=True)

    def test_the_buckets_job_creates_the_backup_bucket(self, objects: list[dict]) -> None:
        job = find(objects, "Job", "starlink-minio-buckets")
        env = {e["name"]: e.get("value") for e in container(job, "mc")["env"]}
        assert env["BUCKETS"].split() == ["starlink-lake", "airflow-logs", "starlink-lake-backup"]

    def test_schedules_and_limits(self, objects: list[dict]) -> None:
        for name, schedule in ((WAREHOUSE_CRON, "0 2 * * *"), (LAKE_CRON, "30 2 * * *")):
            spec = find(objects, "CronJob", name)["spec"]
            assert (spec["schedule"], spec["timeZone"]) == (schedule, "Etc/UTC")
            assert spec["concurrencyPolicy"] == "Forbid"
            assert spec["startingDeadlineSeconds"] == 600
            assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 3
            job = spec["jobTemplate"]["spec"]
            assert (job["activeDeadlineSeconds"], job["backoffLimit"]) == (3600, 2)
            assert job["template"]["spec"]["restartPolicy"] == "Never"
            for c in job["template"]["spec"].get("initContainers", []) + job["template"]["spec"]["containers"]:
                assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {"cpu", "memory"}

    def test_values_reach_the_objects(self, render: Render, tmp_path: Path, kube_version: str) -> None:
        objs = render(
            {
                "backup": {
                    "lake": {"schedule": "15 4 * * 0", "bucket": "lake-copies"},
                    "warehouse": {"schedule": "@daily", "prefix": "dumps/wh", "retentionDays": 30},
                    "activeDeadlineSeconds": 900,
                    "historyLimit": 5,
                }
            },
            tmp_path,
        )
        for obj in objs:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        lake, dump = find(objs, "CronJob", LAKE_CRON), find(objs, "CronJob", WAREHOUSE_CRON)
        assert (lake["spec"]["schedule"], dump["spec"]["schedule"]) == ("15 4 * * 0", "@daily")
        assert dump["spec"]["failedJobsHistoryLimit"] == 5
        assert lake["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 900
        env = {e["name"]: e.get("value") for e in container(dump, "upload")["env"]}
        assert (env["PREFIX"], env["RETENTION_DAYS"], env["BACKUP_BUCKET"]) == ("dumps/wh", "30", "lake-copies")
        assert {e["name"]: e.get("value") for e in container(lake, "mirror")["env"]}["BACKUP_BUCKET"] == "lake-copies"
        job = find(objs, "Job", "starlink-minio-buckets")
        buckets = {e["name"]: e.get("value") for e in container(job, "mc")["env"]}
        assert buckets["BUCKETS"].split()[-1] == "lake-copies"

    @pytest.mark.parametrize(
        ("override", "complaint"),
        [
            ({"backup": {"lake": {"schedule": "every night"}}}, "/backup/lake/schedule"),
            ({"backup": {"warehouse": {"retentionDays": 0}}}, "/backup/warehouse/retentionDays"),
            ({"backup": {"warehouse": {"prefix": "/leading/slash"}}}, "/backup/warehouse/prefix"),
            ({"backup": {"lake": {"bucket": "Upper_Case"}}}, "/backup/lake/bucket"),
            ({"backup": {"keep": 3}}, "keep"),
            ({"backup": {"lake": {"bucket": "starlink-lake"}}}, "backup.lake.bucket must be a bucket of its own"),
        ],
    )
    def test_bad_values_are_refused(self, helm_bin: Path, tmp_path: Path, override: dict, complaint: str) -> None:
        values = tmp_path / "values.yaml"
        values.write_text(yaml.safe_dump(override))
        proc = run_helm(helm_bin, "template", "starlink", str(CHART), "--values", str(values), check=False)
        assert proc.returncode != 0 and complaint in proc.stderr, proc.stderr


# --- Pod Security `restricted`, credentials ------------------------------------------------------------


RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """The Pod Security Standard `restricted` (Kubernetes 1.30+), checked on one pod spec."""
    found = []
    pod = spec.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(key)
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES | {"secret"}:
            found.append(f"volume {volume['name']}: {kinds}")
    for c in spec.get("initContainers", []) + spec["containers"]:
        ctx, where = c.get("securityContext", {}), c["name"]
        if ctx.get("privileged"):
            found.append(f"{where}: privileged")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation")
        non_root = ctx.get("runAsNonRoot") or pod.get("runAsNonRoot")
        if not non_root or 0 in (ctx.get("runAsUser"), pod.get("runAsUser")):
            found.append(f"{where}: may run as root")
        seccomp = (ctx.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{where}: seccomp {seccomp}")
        caps = ctx.get("capabilities", {})
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{where}: capabilities {caps}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            found.append(f"{where}: hostPort")
    return found


class TestSecurity:
    @pytest.mark.parametrize("name", [WAREHOUSE_CRON, LAKE_CRON])
    def test_restricted_pod_security(self, objects: list[dict], name: str) -> None:
        spec = pod_spec(find(objects, "CronJob", name))
        assert restricted_violations(spec) == []
        assert spec["automountServiceAccountToken"] is False and spec["serviceAccountName"] == "starlink-backup"
        assert spec["securityContext"]["runAsUser"] >= 10000  # not a user of the host or the images
        for c in spec.get("initContainers", []) + spec["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            writable = {m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")}
            assert "/tmp" in writable and writable <= {"/tmp", "/backup"}, c["name"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert all(v["emptyDir"]["sizeLimit"] for v in volumes.values())

    def test_every_pod_of_the_chart_is_restricted(self, objects: list[dict]) -> None:
        """The whole chart, since `restricted` is enforced in the namespace."""
        for obj in objects:
            spec = jmespath.search("(spec.jobTemplate.spec || spec).template.spec", obj)
            if spec:
                assert restricted_violations(spec) == [], obj["metadata"]["name"]

    def test_credentials_come_from_the_secrets(self, objects: list[dict]) -> None:
        dump = find(objects, "CronJob", WAREHOUSE_CRON)
        refs = {
            e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in container(dump, "pg-dump")["env"]
            if "valueFrom" in e
        }
        assert refs == {
            "PGHOST": ("warehouse-credentials", "host"),
            "PGPORT": ("warehouse-credentials", "port"),
            "PGDATABASE": ("warehouse-credentials", "dbname"),
            "PGUSER": ("warehouse-credentials", "user"),
            "PGPASSWORD": ("warehouse-credentials", "password"),
        }
        for cron, name in ((dump, "upload"), (find(objects, "CronJob", LAKE_CRON), "mirror")):
            env = container(cron, name)["env"]
            refs = {e["name"]: tuple(e["valueFrom"]["secretKeyRef"].values()) for e in env if "valueFrom" in e}
            # The backups' own identity, the only one that may write the backup bucket.
            assert refs == {
                "ENDPOINT": ("starlink-minio-backup", "endpoint-url"),
                "ACCESS_KEY": ("starlink-minio-backup", "access-key-id"),
                "SECRET_KEY": ("starlink-minio-backup", "secret-access-key"),
            }
        # every reference resolves to a key of a Secret the chart renders in this namespace
        secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
        for cron in (dump, find(objects, "CronJob", LAKE_CRON)):
            for ref in jmespath.search("[initContainers, containers][][].env[]", pod_spec(cron)):
                if "valueFrom" in ref:
                    key = ref["valueFrom"]["secretKeyRef"]
                    assert secrets[key["name"]]["metadata"]["namespace"] == cron["metadata"]["namespace"]
                    assert key["key"] in secrets[key["name"]]["data"], key

    def test_images_are_the_ones_the_chart_pins(self, objects: list[dict]) -> None:
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        mc = "{repository}:{tag}".format(**values["minio"]["bucketsJob"]["image"])
        postgres = "{repository}:{tag}".format(**values["warehouse"]["image"])
        dump, lake = find(objects, "CronJob", WAREHOUSE_CRON), find(objects, "CronJob", LAKE_CRON)
        assert container(dump, "pg-dump")["image"] == postgres  # pg_dump of the server's own version
        assert container(dump, "upload")["image"] == container(lake, "mirror")["image"] == mc


# --- NetworkPolicies: who reaches what, as the union of every policy -----------------------------------


def reachable(objs: list[dict], labels: dict[str, str]) -> set[tuple[str, int]]:
    """(peer, port) pairs the pod with these labels may open, over all egress policies selecting it."""
    out = set()
    for pol in (o for o in objs if o["kind"] == "NetworkPolicy"):
        spec = pol["spec"]
        if "Egress" not in spec["policyTypes"] or not selects(spec["podSelector"].get("matchLabels", {}), labels):
            continue
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                name = jmespath.search('podSelector.matchLabels."app.kubernetes.io/name"', peer)
                name = name or jmespath.search('podSelector.matchLabels."k8s-app"', peer) or str(peer)
                out |= {(name, p["port"]) for p in rule["ports"]}
    return out


def admitted(objs: list[dict], workload_labels: dict[str, str], port: int) -> list[dict]:
    """Peers the ingress policies selecting these pods let in on this port."""
    peers = []
    for pol in (o for o in objs if o["kind"] == "NetworkPolicy"):
        spec = pol["spec"]
        if "Ingress" not in spec["policyTypes"] or not selects(
            spec["podSelector"].get("matchLabels", {}), workload_labels
        ):
            continue
        for rule in spec.get("ingress", []):
            if port in [p["port"] for p in rule["ports"]]:
                peers += rule["from"]
    return peers


class TestNetworkPolicies:
    def test_egress_is_exactly_dns_minio_and_for_the_dump_the_warehouse(self, objects: list[dict]) -> None:
        dump = pod_labels(find(objects, "CronJob", WAREHOUSE_CRON))
        lake = pod_labels(find(objects, "CronJob", LAKE_CRON))
        assert reachable(objects, lake) == {DNS, ("minio", 9000)}
        assert reachable(objects, dump) == {DNS, ("minio", 9000), ("warehouse", 5432)}
        assert selects(BACKUP_ROLE, dump) and selects(BACKUP_ROLE, lake)

    def test_the_stores_admit_exactly_their_clients(self, objects: list[dict], objects_off: list[dict]) -> None:
        warehouse = pod_labels(find(objects, "StatefulSet", "starlink-warehouse"))
        minio = pod_labels(find(objects, "StatefulSet", "starlink-minio"))
        dump = pod_labels(find(objects, "CronJob", WAREHOUSE_CRON))
        lake = pod_labels(find(objects, "CronJob", LAKE_CRON))
        before = admitted(objects_off, warehouse, 5432)
        new_warehouse = [p for p in admitted(objects, warehouse, 5432) if p not in before]
        assert [p["podSelector"]["matchLabels"] for p in new_warehouse] == [
            {"app.kubernetes.io/name": "backup-warehouse", "app.kubernetes.io/instance": "starlink"}
        ]
        peers = admitted(objects, warehouse, 5432)
        assert any(selects(p["podSelector"]["matchLabels"], dump) for p in peers if "podSelector" in p)
        assert not any(selects(p["podSelector"]["matchLabels"], lake) for p in peers if "podSelector" in p)
        new_minio = [p for p in admitted(objects, minio, 9000) if p not in admitted(objects_off, minio, 9000)]
        assert new_minio == [{"podSelector": {"matchLabels": BACKUP_ROLE}}]
        # nothing else changes: no other port, no namespace or address peer
        for pol in (o for o in objects if o["kind"] == "NetworkPolicy" and "backup" in o["metadata"]["name"]):
            for rule in pol["spec"].get("ingress", []) + pol["spec"].get("egress", []):
                for peer in rule.get("from", []) + rule.get("to", []):
                    assert "ipBlock" not in peer
                    assert "namespaceSelector" not in peer or peer["podSelector"]["matchLabels"] == {
                        "k8s-app": "kube-dns"
                    }


# --- the scripts, run ----------------------------------------------------------------------------------

# A stand-in for mc: records each call (one JSON line) and keeps buckets as folders under $MC_ROOT,
# with the semantics the scripts rely on (real mc's: `rm --recursive` fails when nothing is listed,
# `ls` of an empty prefix prints nothing and fails, `mirror` never deletes without --remove).
FAKE_MC = r"""
import json, os, shutil, sys, time
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["MC_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
while args and args[0].startswith("--"):  # global flags
    args = args[2:] if args[0] == "--config-dir" else args[1:]
root = Path(os.environ["MC_ROOT"])
if os.environ.get("MC_FAIL") == args[0]:
    sys.exit("mc: <ERROR> scripted failure")

def path(target):
    alias, _, rest = target.partition("/")
    assert alias == "lake", target
    return root / rest

def files(p):
    return sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else []

cmd, rest = args[0], args[1:]
if cmd == "alias":
    assert rest[:2] == ["set", "lake"] and len(rest) == 5 and all(rest), rest
elif cmd == "cp":
    src, dst = rest
    path(dst).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, path(dst))
elif cmd == "ls":
    found = files(path(rest[-1]))
    if not found:
        sys.exit("mc: <ERROR> Unable to list. Object does not exist.")
    print("\n".join(f.name for f in found))
elif cmd == "rm":
    assert rest[:2] == ["--recursive", "--force"] and rest[2] == "--older-than", rest
    days = float(rest[3].removesuffix("d"))
    found = files(path(rest[4]))
    if not found:
        sys.exit("mc: <ERROR> Failed to remove. Object does not exist.")
    for f in found:
        if f.stat().st_mtime < time.time() - days * 86400:
            f.unlink()
elif cmd == "mirror":
    flags, (src, dst) = rest[:-2], rest[-2:]
    for f in files(path(src)):
        target = path(dst) / f.relative_to(path(src))
        if not target.exists() or ("--overwrite" in flags and target.read_bytes() != f.read_bytes()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
    if "--remove" in flags:
        for f in files(path(dst)):
            if not (path(src) / f.relative_to(path(dst))).exists():
                f.unlink()
elif cmd == "du":
    print(sum(f.stat().st_size for f in files(path(rest[0]))), rest[0])
else:
    sys.exit(f"fake mc: no {cmd}")
"""


@pytest.fixture
def fake_mc(tmp_path: Path) -> dict[str, Any]:
    bin_dir, root = tmp_path / "bin", tmp_path / "minio"
    bin_dir.mkdir()
    root.mkdir()
    (bin_dir / "mc").write_text(f"#!{sys.executable}\n{FAKE_MC}")
    (bin_dir / "mc").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "MC_LOG": str(tmp_path / "mc.log"),
        "MC_ROOT": str(root),
        # what the Secret and values give the containers
        "ENDPOINT": "http://starlink-minio.starlink.svc.cluster.local:9000",
        "ACCESS_KEY": "lake-admin",
        "SECRET_KEY": "lake-secret-123456",
        "LAKE_BUCKET": "starlink-lake",
        "BACKUP_BUCKET": "starlink-lake-backup",
    }
    return {"env": env, "root": root, "log": tmp_path / "mc.log"}


def calls(mc: dict[str, Any]) -> list[list[str]]:
    import json

    lines = mc["log"].read_text().splitlines() if mc["log"].exists() else []
    return [json.loads(line)[3:] for line in lines]  # without --config-dir /tmp/.mc --quiet


def put(path: Path, body: bytes, age_days: float = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    then = time.time() - age_days * 86400
    os.utime(path, (then, then))


def run_script(text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-ec", text], env=env, capture_output=True, text=True, timeout=120)


class TestScripts:
    def test_the_dump_script_runs_pg_dump_for_real(self, objects: list[dict], warehouse_url: str, tmp_path: Path):
        import psycopg

        pgserver = pytest.importorskip("pgserver")
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute("create schema raw; create table raw.launches (id int); insert into raw.launches values (42)")
        url = urlsplit(warehouse_url)
        secret = {  # warehouse-credentials, as the chart writes it, pointing at the test database
            "host": parse_qs(url.query)["host"][0],
            "port": "5432",
            "dbname": url.path.lstrip("/"),
            "user": url.username,
            "password": "unused-with-trust-auth",
        }
        init = container(find(objects, "CronJob", WAREHOUSE_CRON), "pg-dump")
        env = {"PATH": f"{Path(pgserver.__file__).parent / 'pginstall' / 'bin'}:/usr/bin:/bin"}
        for e in init["env"]:
            env[e["name"]] = secret[e["valueFrom"]["secretKeyRef"]["key"]] if "valueFrom" in e else e["value"]
        env["HOME"] = str(tmp_path)
        scratch = tmp_path / "backup"
        scratch.mkdir()
        proc = run_script(script(find(objects, "CronJob", WAREHOUSE_CRON), "pg-dump", scratch), env)
        assert proc.returncode == 0, proc.stderr
        (dump,) = scratch.iterdir()
        assert re.fullmatch(r"\d{8}T\d{6}Z\.dump", dump.name)
        listing = subprocess.run(
            [Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_restore", "--list", dump],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "TABLE DATA raw launches" in listing
        # A server that cannot be reached fails the init container, so nothing is uploaded.
        env["PGHOST"] = str(tmp_path / "nowhere")
        assert run_script(script(find(objects, "CronJob", WAREHOUSE_CRON), "pg-dump", scratch), env).returncode != 0

    def test_upload_stores_the_dump_then_prunes_both_buckets(self, objects, fake_mc, tmp_path: Path) -> None:
        root = fake_mc["root"]
        prefix = "backups/warehouse"
        for bucket in ("starlink-lake", "starlink-lake-backup"):
            put(root / bucket / prefix / "20240101T020000Z.dump", b"old", age_days=20)
            put(root / bucket / prefix / "20240115T020000Z.dump", b"recent", age_days=10)
        put(root / "starlink-lake" / "raw/celestrak/satcat/ds=2024-01-01/satcat.json", b"{}", age_days=400)
        scratch = tmp_path / "backup"
        put(scratch / "20240125T020000Z.dump", b"new dump")
        env = {**fake_mc["env"], "PREFIX": prefix, "RETENTION_DAYS": "14"}
        cron = find(objects, "CronJob", WAREHOUSE_CRON)
        assert {e["name"]: e.get("value") for e in container(cron, "upload")["env"]}["RETENTION_DAYS"] == "14"
        proc = run_script(script(cron, "upload", scratch), env)
        assert proc.returncode == 0, proc.stderr

        # Into the backup bucket, which only the backups' identity writes; the lake's dumps (from
        # before) are the lake's, not touched.
        assert calls(fake_mc) == [
            ["alias", "set", "lake", env["ENDPOINT"], "lake-admin", "lake-secret-123456"],
            ["cp", str(scratch / "20240125T020000Z.dump"), f"lake/starlink-lake-backup/{prefix}/20240125T020000Z.dump"],
            ["rm", "--recursive", "--force", "--older-than", "14d", f"lake/starlink-lake-backup/{prefix}/"],
            ["ls", f"lake/starlink-lake-backup/{prefix}/"],
        ]
        assert sorted(p.name for p in (root / "starlink-lake-backup" / prefix).iterdir()) == [
            "20240115T020000Z.dump",
            "20240125T020000Z.dump",
        ]
        assert len(list((root / "starlink-lake" / prefix).iterdir())) == 2
        assert (root / "starlink-lake/raw/celestrak/satcat/ds=2024-01-01/satcat.json").exists()  # only dumps pruned

    def test_upload_on_a_fresh_backup_bucket_and_on_failure(self, objects, fake_mc, tmp_path: Path) -> None:
        scratch = tmp_path / "backup"
        put(scratch / "20240125T020000Z.dump", b"new dump")
        env = {**fake_mc["env"], "PREFIX": "backups/warehouse", "RETENTION_DAYS": "14"}
        text = script(find(objects, "CronJob", WAREHOUSE_CRON), "upload", scratch)
        # The first night: the new dump is the only one, and stays.
        assert run_script(text, env).returncode == 0
        assert [c[0] for c in calls(fake_mc)] == ["alias", "cp", "rm", "ls"]
        # An upload that fails fails the Job, and nothing is pruned.
        fake_mc["log"].unlink()
        proc = run_script(text, {**env, "MC_FAIL": "cp"})
        assert proc.returncode != 0 and "scripted failure" in proc.stderr
        assert [c[0] for c in calls(fake_mc)] == ["alias", "cp"]
        # No dump (the init container wrote none): nothing is called at all.
        fake_mc["log"].unlink()
        (scratch / "20240125T020000Z.dump").unlink()
        proc = run_script(text, env)
        assert proc.returncode != 0 and "no dump in" in proc.stderr and calls(fake_mc) == []

    def test_the_lake_mirror_copies_new_and_changed_and_deletes_nothing(self, objects, fake_mc) -> None:
        root = fake_mc["root"]
        lake, copy = root / "starlink-lake", root / "starlink-lake-backup"
        put(lake / "raw/celestrak/satcat/ds=2024-01-01/satcat.json", b"snapshot 1")
        put(lake / "reports/starlink/ds=2024-01-01/answer.json", b"answer v2")
        put(copy / "reports/starlink/ds=2024-01-01/answer.json", b"answer v1")
        put(copy / "raw/celestrak/satcat/ds=2023-12-31/satcat.json", b"a snapshot the lake lost")
        cron = find(objects, "CronJob", LAKE_CRON)
        proc = run_script(script(cron, "mirror"), fake_mc["env"])
        assert proc.returncode == 0, proc.stderr
        assert calls(fake_mc) == [
            ["alias", "set", "lake", fake_mc["env"]["ENDPOINT"], "lake-admin", "lake-secret-123456"],
            ["mirror", "--overwrite", "lake/starlink-lake", "lake/starlink-lake-backup"],
            ["du", "lake/starlink-lake-backup"],
        ]
        assert (copy / "raw/celestrak/satcat/ds=2024-01-01/satcat.json").read_bytes() == b"snapshot 1"
        assert (copy / "reports/starlink/ds=2024-01-01/answer.json").read_bytes() == b"answer v2"
        assert (copy / "raw/celestrak/satcat/ds=2023-12-31/satcat.json").exists()
        code = [line for line in script(cron, "mirror").splitlines() if not line.lstrip().startswith("#")]
        assert not [line for line in code if "--remove" in line or " rm " in line]
