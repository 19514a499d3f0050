"""`make e2e` and its GitHub workflow, every part that runs without a cluster:

- the workflow is valid (GitHub's workflow schema) and clean under zizmor, offline; it installs the
  kind and kubectl this setup is tested with and runs `make e2e`;
- `make e2e` runs cluster-up with the in-cluster API replay and points the pipeline at it, then
  k8s/e2e.py; a failure exports kind's logs;
- the chart with the replay on: every object valid, the replay pod restricted, and the network
  open between pipeline pods and the replay only;
- k8s/e2e.py reads answer.json from a real S3 API server and compares answers through the typed
  model; its kubectl side (Secret, exec, port-forward) runs against the fake cluster. (Its REST
  trigger and poll run against a real `airflow api-server` and `airflow scheduler`:
  tests/airflow/test_airflow_e2e_client.py, test_airflow_e2e_scheduler.py.)
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import jmespath
import kubernetes_validate
import pytest
import yaml
from k8s_helpers import CLUSTER_MK, K8S, ROOT, Render, make_var_default

WORKFLOW = ROOT / ".github" / "workflows" / "e2e.yml"
BIN = Path(sys.executable).parent
TAG = "5eed5eed5eed"


def e2e_module():
    """k8s/e2e.py, a script of the cluster targets, imported by path."""
    if "starlink_e2e" not in sys.modules:
        spec = importlib.util.spec_from_file_location("starlink_e2e", K8S / "e2e.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["starlink_e2e"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["starlink_e2e"]


# --- the workflow --------------------------------------------------------------------------------


def test_the_workflow_matches_githubs_schema() -> None:
    proc = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_offline() -> None:
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_workflow_runs_make_e2e_with_the_tested_tools() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["e2e"]["steps"]
    kind = next(s for s in steps if s.get("uses", "").startswith("helm/kind-action@"))
    assert kind["with"]["version"] == "v" + make_min("MIN_KIND")
    assert kind["with"]["install_only"] is True  # the cluster comes from kind-config.yaml, via cluster-up
    helm = next(s for s in steps if s.get("uses", "").startswith("azure/setup-helm@"))
    assert version(helm["with"]["version"]) >= version(make_min("MIN_HELM"))
    assert version(kind["with"]["kubectl_version"]) >= version(make_min("MIN_KUBECTL"))
    run = next(s for s in steps if "make e2e" in s.get("run", ""))
    # Branch and repository names come through the environment, never spliced into the script.
    assert "${{" not in run["run"] and {"GIT_REPO", "GIT_BRANCH"} <= set(run["env"])
    assert all("@" in s["uses"] and len(s["uses"].split("@")[1].split()[0]) == 40 for s in steps if "uses" in s)
    upload = steps[-1]
    assert upload["if"] == "failure()" and upload["with"]["path"] == ".cluster-logs"
    assert make_var_default("CLUSTER_LOGS") == "$(CLUSTER_ROOT)/.cluster-logs"
    # Disk first: the images and the kind node image need more than the runner's guaranteed 14 GB.
    assert steps[0]["name"] == "free disk" and "rm -rf /usr/share/dotnet" in steps[0]["run"]


def make_min(name: str) -> str:
    """A tool version `make tools` checks against (k8s/cluster.mk)."""
    match = re.search(rf"^{name}\s*:=\s*(\S+)$", CLUSTER_MK.read_text(), re.M)
    assert match, name
    return match.group(1)


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.lstrip("v").split("."))


# --- make e2e --------------------------------------------------------------------------------------


def test_make_e2e_turns_the_replay_on_and_runs_the_check() -> None:
    out = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "e2e", "GIT_REPO=https://example.com/r.git", "GIT_BRANCH=main",
         f"IMAGE_TAG={TAG}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "cluster-up PLATFORM_SET=" in out
    for flag in (
        "--set apiReplay.enabled=true",
        f"--set-string apiReplay.image.tag={TAG}",
        "--set-string pipelineSettings.SPACEX_API_URL=http://starlink-api-replay:8000/v4",
        "--set-string pipelineSettings.CELESTRAK_URL=http://starlink-api-replay:8000",
        "--set-string pipelineSettings.SAMPLE_DATA=1",
    ):
        assert flag in out, flag
    assert f"k8s/e2e.py' --ds {make_var_default('E2E_DS')} --context kind-starlink42k" in out
    # The scheduler creates no run of its own on the e2e cluster: the e2e run is the only run.
    assert "AIRFLOW_EXTRA_SET='--set-string config.scheduler.use_job_schedule=False'" in out
    assert "k8s/cluster-logs.sh' 'starlink42k'" in out


@pytest.fixture(scope="module")
def replay_objects(render: Render, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    values = {
        "apiReplay": {"enabled": True, "image": {"repository": "starlink42k/pipeline", "tag": TAG}},
        "pipelineSettings": {"SPACEX_API_URL": "http://starlink-api-replay:8000/v4", "SAMPLE_DATA": "1"},
    }
    return render(values, tmp_path_factory.mktemp("replay"))


def test_the_chart_with_the_replay_is_valid(replay_objects: list[dict], kube_version: str) -> None:
    for obj in replay_objects:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    deployment = next(o for o in replay_objects if o["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"starlink42k/pipeline:{TAG}" and container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"] == ["replay", "--host", "0.0.0.0", "--port", "8000"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_only_pipeline_pods_reach_the_replay(replay_objects: list[dict], objects: list[dict]) -> None:
    policies = {o["metadata"]["name"]: o["spec"] for o in replay_objects if o["kind"] == "NetworkPolicy"}
    ingress = policies["starlink-api-replay-ingress"]
    assert jmespath.search("ingress[].from[].podSelector.matchLabels", ingress) == [{"starlink42k/role": "pipeline"}]
    egress = policies["starlink-pipeline-to-api-replay"]
    assert egress["podSelector"] == {"matchLabels": {"starlink42k/role": "pipeline"}}
    assert jmespath.search("egress[].ports[].port", egress) == [8000]
    # off by default: no replay, no opening
    assert not [o for o in objects if "api-replay" in o["metadata"]["name"]]


# --- answer.json from MinIO, compared through the typed answer -----------------------------------


def sample_answer() -> bytes:
    from starlink42k.answer import Answer, Details, Scenario, Source

    return Answer(
        question="q", ds="2024-01-31", data_loaded_at="2026-12-02T00:00:00Z", sample_data=True, notice="n",
        as_of="2022-10-28", source="spacex_api", source_label="SpaceX API v4", stale=True, stale_since="2022-10-28",
        stale_after_days=30, target_satellites=42000, satellites_in_orbit=3000, launches_per_month=2.5,
        satellites_per_launch=50.0,
        details=Details(12, 30, 30.0, 48.0, 10.0, 3600, 600, 70, "2019-05-24", "2022-10-28", {"2022": 30}),
        scenarios=(Scenario("constant_cadence", "d", "2022-10-28", 3000, 2.5, 0.0, 50.0, 10.0, True, "2046-07",
                            "2046-07-01", 285.0, 700),),
        backtest=(),
        sources=(Source("spacex_api", "SpaceX API v4", "http://10.1.2.3:8000/v4/starlink/query",
                        "2026-12-02T00:00:00Z", "2022-10-28", 3600, "2024-01-31", True, 460, "warn", 30, None,
                        True),),
        files={"answer.json": "s3://starlink-lake/reports/starlink/ds=2024-01-31/answer.json"},
    ).to_json()  # fmt: skip


def test_the_answer_is_read_from_the_lake_and_compared(s3_endpoint: str, s3_bucket: str) -> None:
    e2e = e2e_module()
    body = sample_answer()
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=s3_bucket, Key="reports/starlink/ds=2024-01-31/answer.json", Body=body
    )
    read = e2e.read_answer(s3_bucket, "2024-01-31", s3_endpoint, "test-access-key", "test-secret-key")
    assert read == body
    with pytest.raises(e2e.E2EFailure, match=r"answer.json cannot be read"):
        e2e.read_answer(s3_bucket, "2024-02-01", s3_endpoint, "test-access-key", "test-secret-key")

    # The embedded run: another time, another replay host, other file URIs; the same answer.
    embedded = json.loads(body)
    embedded["data_loaded_at"] = "2026-12-03T09:00:00Z"
    embedded["files"] = {"answer.json": "file:///tmp/x/answer.json"}
    embedded["sources"][0].update(url="http://127.0.0.1:41000/v4/starlink/query", fetched_at="2026-12-03T09:00:00Z")
    e2e.compare(read, json.dumps(embedded).encode())
    embedded["satellites_in_orbit"] = 2999
    with pytest.raises(e2e.E2EFailure, match=r"differs from the embedded run's in: satellites_in_orbit"):
        e2e.compare(read, json.dumps(embedded).encode())


# --- e2e.py's cluster side, against the fake cluster --------------------------------------------------


@pytest.mark.cluster
def test_the_cluster_side_of_e2e_against_the_fake_cluster(
    fake_cluster, s3_endpoint: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `make cluster-up` with the replay (the fake cluster: both charts rendered with e2e's flags):
    the lake's keys from the rendered Secret, the admin password from the file the rendered
    airflow.cfg names, answer.json through a port-forward to the rendered MinIO Service."""
    import base64
    from configparser import ConfigParser

    e2e = e2e_module()
    proc = fake_cluster.make("cluster-up", f"IMAGE_TAG={TAG}", "PLATFORM_SET=" + " ".join([
        "--set apiReplay.enabled=true", f"--set-string apiReplay.image.tag={TAG}"]),
        "AIRFLOW_EXTRA_SET=--set-string config.scheduler.use_job_schedule=False")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = next(o for o in fake_cluster.objects() if o["metadata"]["name"] == "airflow-config")
    cfg = ConfigParser(interpolation=None)
    cfg.read_string(config["data"]["airflow.cfg"])
    assert cfg["scheduler"]["use_job_schedule"] == "False"
    secret = next(o for o in fake_cluster.objects() if o["metadata"]["name"] == "lake-credentials")
    passwords = tmp_path / "passwords.json"
    passwords.write_text('{"admin": "generated-by-the-api-server"}')
    for name, value in fake_cluster.env(
        FAKE_POD_FILES=json.dumps({"airflow/airflow-api-server": str(passwords)}),
        FAKE_SERVICE_ENDPOINTS=f"starlink/starlink-minio:9000={s3_endpoint.removeprefix('http://')}",
    ).items():
        monkeypatch.setenv(name, value)
    context = "kind-starlink42k"
    key = e2e.secret_value(context, "starlink", "lake-credentials", "access-key-id")
    assert key == base64.b64decode(secret["data"]["access-key-id"]).decode()
    assert e2e.admin_password(context) == "generated-by-the-api-server"
    with pytest.raises(e2e.E2EFailure, match="No such file"):
        e2e.kubectl(context, "-n", "airflow", "exec", "deploy/airflow-api-server", "--", "cat", "/tmp/other")
    body = sample_answer()
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=s3_bucket, Key="reports/starlink/ds=2024-01-31/answer.json", Body=body
    )
    with e2e.port_forward(context, "starlink", "starlink-minio", 9000) as endpoint:
        assert e2e.read_answer(s3_bucket, "2024-01-31", endpoint, "test-access-key", "test-secret-key") == body
