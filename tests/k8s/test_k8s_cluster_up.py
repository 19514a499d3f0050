"""The cluster's make targets for real, against the fake cluster (tests/k8s/fake_cluster.py): the
real top-level Makefile, images/images.mk and k8s/cluster.mk, the real scripts and a real git
repository; kubectl, helm, kind and docker answer from what `helm template` of both charts renders
with cluster-up's own values and --set flags."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from fake_cluster import FakeClusterRun
from k8s_helpers import KIND_CONFIG, airflow_chart_dir

pytestmark = pytest.mark.cluster

TAG = "aaaa1111aaaa"


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def cluster_up(fake: FakeClusterRun, tag: str = TAG, *make_vars: str, **knobs: str) -> subprocess.CompletedProcess:
    return fake.make("cluster-up", f"IMAGE_TAG={tag}", *make_vars, **knobs)


def up(fake: FakeClusterRun, tag: str = TAG, **knobs: str) -> str:
    proc = cluster_up(fake, tag, **knobs)
    assert proc.returncode == 0, output(proc)
    return proc.stdout


def deployments(fake: FakeClusterRun, namespace: str = "airflow") -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o
        for o in fake.objects()
        if o["kind"] == "Deployment" and o["metadata"]["namespace"] == namespace
    }


def annotation(deployment: dict) -> str:
    return deployment["spec"]["template"]["metadata"]["annotations"]["starlink42k/image-id"]


class TestTools:
    def test_all_present(self, fake_cluster: FakeClusterRun) -> None:
        proc = fake_cluster.make("tools")
        assert proc.returncode == 0, output(proc)
        for name, version in [("docker", "28.2.2"), ("kind", "0.33.0"), ("helm", "4.1.4"), ("kubectl", "1.37.1")]:
            assert re.search(rf"{name}\s+{re.escape(version)}\s+ok", proc.stdout), proc.stdout
        assert "Next: make cluster-up" in proc.stdout

    def test_a_kind_that_cannot_create_the_node_fails_with_the_upgrade_command(
        self, fake_cluster: FakeClusterRun
    ) -> None:
        proc = fake_cluster.make("tools", FAKE_KIND_VERSION="kind v0.31.0 go1.24.2 darwin/arm64")
        assert proc.returncode != 0
        assert re.search(r"kind\s+0\.31\.0\s+TOO OLD: 0\.32\.0 or later is required", proc.stdout), proc.stdout
        assert "go install sigs.k8s.io/kind@v0.33.0" in proc.stdout and "brew upgrade kind" in proc.stdout

    def test_a_kind_older_than_tested_but_able_only_warns(self, fake_cluster: FakeClusterRun) -> None:
        proc = fake_cluster.make("tools", FAKE_KIND_VERSION="kind v0.32.0 go1.24.2 linux/amd64")
        assert proc.returncode == 0, output(proc)
        assert re.search(r"kind\s+0\.32\.0\s+older than tested \(0\.33\.0\)", proc.stdout), proc.stdout

    def test_a_missing_tool_fails_with_where_to_get_it(self, fake_cluster: FakeClusterRun, tmp_path: Path) -> None:
        """A PATH with the fake tools but kubectl, and only the utilities the recipe uses."""
        bin_dir = tmp_path / "only"
        bin_dir.mkdir()
        for tool in ("docker", "kind", "helm"):
            (bin_dir / tool).symlink_to(fake_cluster.bin_dir / tool)
        for util in ("bash", "sh", "awk", "grep", "head", "python3"):
            (bin_dir / util).symlink_to(shutil.which(util))
        proc = fake_cluster.make("tools", PATH=str(bin_dir))
        assert proc.returncode != 0
        assert re.search(r"kubectl\s+MISSING\s+install it: https://kubernetes.io/docs/tasks/tools/", proc.stdout)

    def test_a_docker_daemon_that_does_not_answer_fails(self, fake_cluster: FakeClusterRun) -> None:
        proc = fake_cluster.make("tools", FAKE_DOCKER_DOWN="1")
        assert proc.returncode != 0
        assert "daemon does not answer" in proc.stdout


class TestImagesMkAlone:
    """images/images.mk "also usable alone": with the top-level Makefile's shell settings."""

    def test_a_failed_build_fails_the_target(self, fake_cluster: FakeClusterRun) -> None:
        failing = f"starlink42k/pipeline:{TAG}"
        proc = fake_cluster.make(
            "image-pipeline", f"IMAGE_TAG={TAG}", makefile="images/images.mk", FAKE_DOCKER_BUILD_FAILS=failing
        )
        assert proc.returncode != 0, output(proc)
        assert f"failed to build {failing}" in proc.stderr and "built " not in proc.stdout

    def test_a_good_build_says_so(self, fake_cluster: FakeClusterRun) -> None:
        proc = fake_cluster.make("image-pipeline", f"IMAGE_TAG={TAG}", makefile="images/images.mk")
        assert proc.returncode == 0, output(proc)
        assert f"built starlink42k/pipeline:{TAG} in " in proc.stdout
        assert f"starlink42k/pipeline:{TAG}" in fake_cluster.images()


class TestStep8:
    def test_a_healthy_install_passes_every_step(self, fake_cluster: FakeClusterRun) -> None:
        out = up(fake_cluster)
        assert "==> 8/8" in out and "Next: make port-forward" in out

    def test_every_airflow_deployment_on_our_image_is_checked(self, fake_cluster: FakeClusterRun) -> None:
        """The deployments the check covers are the rendered ones that run our image: none left out."""
        out = up(fake_cluster)
        ours = sorted(
            name
            for name, d in deployments(fake_cluster).items()
            if d["spec"]["template"]["spec"]["containers"][0]["image"].startswith("starlink42k/airflow:")
        )
        assert len(ours) == 4, ours
        for name in ours:
            assert f"{name}=starlink42k/airflow:{TAG}" in out, out

    def test_a_deployment_left_on_its_previous_image_fails_the_run(self, fake_cluster: FakeClusterRun) -> None:
        up(fake_cluster)
        second = cluster_up(fake_cluster, "bbbb2222bbbb", FAKE_STALE="airflow-triggerer")
        assert second.returncode != 0
        assert f"not on starlink42k/airflow:bbbb2222bbbb: airflow-triggerer=starlink42k/airflow:{TAG}" in output(second)


class TestRuns:
    def test_first_run_creates_the_cluster_builds_loads_and_installs(self, fake_cluster: FakeClusterRun) -> None:
        up(fake_cluster)
        calls = fake_cluster.calls()
        assert f"kind create cluster --name starlink42k --config {KIND_CONFIG} --wait 180s" in calls
        # The image ID annotated on the pods is the one step 3 built, on the run that built it.
        built = fake_cluster.images()
        for name, deployment in deployments(fake_cluster).items():
            if name != "airflow-statsd":
                assert annotation(deployment) == built[f"starlink42k/airflow:{TAG}"], name
        # Loaded into the nodes that run pods only: kind taints the control plane of a cluster with workers.
        nodes = {n["name"]: n for n in fake_cluster.nodes()}
        roles = [n["role"] for n in yaml.safe_load(KIND_CONFIG.read_text())["nodes"]]
        assert sorted(n["role"] for n in nodes.values()) == sorted(roles)
        assert nodes["starlink42k-control-plane"]["images"] == []
        assert nodes["starlink42k-worker"]["images"] == sorted(
            f"starlink42k/{i}:{TAG}" for i in ("airflow", "dbt", "pipeline")
        )

    def test_a_rerun_without_a_change_rolls_nothing_and_a_rebuild_rolls_airflow(
        self, fake_cluster: FakeClusterRun
    ) -> None:
        up(fake_cluster)
        before = deployments(fake_cluster)
        seen = len(fake_cluster.calls())
        up(fake_cluster)
        assert not [c for c in fake_cluster.calls(seen) if c.startswith("kind create")], "the cluster is reused"
        templates = {n: d["spec"]["template"] for n, d in before.items()}
        assert {n: d["spec"]["template"] for n, d in deployments(fake_cluster).items()} == templates
        # The same tag on another base image: a new ID, so every Airflow deployment's template changes.
        up(fake_cluster, FAKE_DOCKER_BUILD_SALT="other-base")
        after = deployments(fake_cluster)
        rolled = sorted(n for n in after if after[n]["spec"]["template"] != before[n]["spec"]["template"])
        assert rolled == ["airflow-api-server", "airflow-dag-processor", "airflow-scheduler", "airflow-triggerer"]
        assert annotation(after["airflow-scheduler"]) == fake_cluster.images()[f"starlink42k/airflow:{TAG}"]

    def test_a_new_tag_reaches_every_image(self, fake_cluster: FakeClusterRun) -> None:
        up(fake_cluster)
        up(fake_cluster, "bbbb2222bbbb")
        for name, deployment in deployments(fake_cluster).items():
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                if container["image"].startswith("starlink42k/"):
                    assert container["image"] == "starlink42k/airflow:bbbb2222bbbb", name
        worker = next(n for n in fake_cluster.nodes() if n["role"] == "worker")
        assert "starlink42k/pipeline:bbbb2222bbbb" in worker["images"]

    def test_kind_load_falls_back_to_an_image_archive(self, fake_cluster: FakeClusterRun) -> None:
        proc = cluster_up(fake_cluster, FAKE_KIND_LOAD_FAILS="1")
        assert proc.returncode == 0, output(proc)
        assert "loaded with docker save + kind load image-archive" in proc.stdout
        worker = next(n for n in fake_cluster.nodes() if n["role"] == "worker")
        assert f"starlink42k/dbt:{TAG}" in worker["images"]

    def test_when_neither_load_works_nothing_is_installed(self, fake_cluster: FakeClusterRun, tmp_path: Path) -> None:
        logs = tmp_path / "logs"
        proc = cluster_up(
            fake_cluster, TAG, f"CLUSTER_LOGS={logs}", FAKE_KIND_LOAD_FAILS="1", FAKE_KIND_ARCHIVE_FAILS="1"
        )
        assert proc.returncode != 0
        assert "neither with 'kind load docker-image'" in proc.stderr
        assert not [c for c in fake_cluster.calls() if "upgrade --install" in c], "nothing is installed"

    def test_a_failed_build_stops_the_run(self, fake_cluster: FakeClusterRun, tmp_path: Path) -> None:
        proc = cluster_up(
            fake_cluster, TAG, f"CLUSTER_LOGS={tmp_path / 'logs'}", FAKE_DOCKER_BUILD_FAILS=f"starlink42k/dbt:{TAG}"
        )
        assert proc.returncode != 0
        assert not [c for c in fake_cluster.calls() if c.startswith("kind load")]


class TestLogsOnFailure:
    def test_a_failing_cluster_up_exports_kind_logs_and_describes_the_pods_not_ready(
        self, fake_cluster: FakeClusterRun, tmp_path: Path
    ) -> None:
        logs = tmp_path / "logs"
        proc = cluster_up(fake_cluster, TAG, f"CLUSTER_LOGS={logs}", FAKE_UNREADY="starlink-minio")
        assert proc.returncode != 0
        assert "resource not ready: starlink-minio" in proc.stderr
        assert (logs / "kind" / "starlink42k-worker" / "kubelet.log").is_file()
        assert "starlink-minio-0" in (logs / "pods.txt").read_text()
        described = sorted(p.name for p in logs.glob("describe-*"))
        assert described == ["describe-starlink-starlink-minio-0.txt"], described
        assert "Image:  quay.io/minio/minio:" in (logs / described[0]).read_text()
        assert f"The cluster's logs are in {logs}" in proc.stdout

    def test_a_failure_before_the_cluster_exists_still_says_where_to_look(
        self, fake_cluster: FakeClusterRun, tmp_path: Path
    ) -> None:
        logs = tmp_path / "logs"
        proc = cluster_up(fake_cluster, TAG, f"CLUSTER_LOGS={logs}", "GIT_BRANCH=no-such-branch")
        assert proc.returncode != 0
        assert "cannot find branch 'no-such-branch'" in proc.stderr
        assert "no kind logs (is there a cluster 'starlink42k'?" in proc.stdout


class TestAirGapped:
    def test_without_the_chart_repository_the_online_default_fails(self, fake_cluster: FakeClusterRun) -> None:
        proc = cluster_up(fake_cluster, FAKE_HELM_REPOS="")
        assert proc.returncode != 0
        assert '"https://airflow.apache.org" is not a valid chart repository or cannot be reached' in proc.stderr

    def test_a_local_copy_of_the_chart_installs_without_the_repository(self, fake_cluster: FakeClusterRun) -> None:
        proc = cluster_up(fake_cluster, TAG, f"AIRFLOW_CHART={airflow_chart_dir()}", FAKE_HELM_REPOS="")
        assert proc.returncode == 0, output(proc)
        (upgrade,) = [c for c in fake_cluster.calls() if "upgrade --install airflow" in c]
        assert f"upgrade --install airflow {airflow_chart_dir()} --namespace airflow" in upgrade

    def test_a_copy_of_another_version_is_refused_before_the_install(
        self, fake_cluster: FakeClusterRun, tmp_path: Path
    ) -> None:
        other = tmp_path / "airflow-1.21.0"
        other.mkdir()
        chart = yaml.safe_load((airflow_chart_dir() / "Chart.yaml").read_text())
        (other / "Chart.yaml").write_text(yaml.safe_dump({**chart, "version": "1.21.0"}))
        proc = cluster_up(fake_cluster, TAG, f"AIRFLOW_CHART={other}", FAKE_HELM_REPOS="")
        assert proc.returncode != 0
        assert f"AIRFLOW_CHART={other} is chart version 1.21.0, not 1.22.0" in proc.stdout
        assert not [c for c in fake_cluster.calls() if "upgrade --install airflow" in c]


class TestAfterCluster:
    def test_slack_secret_writes_the_connection_without_echoing_the_url(self, fake_cluster: FakeClusterRun) -> None:
        up(fake_cluster)
        url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
        seen = len(fake_cluster.calls())
        proc = fake_cluster.make("slack-secret", SLACK_WEBHOOK_URL=url)
        assert proc.returncode == 0, output(proc)
        (secret,) = [o for o in fake_cluster.objects() if o["metadata"]["name"] == "slack-alerts"]
        assert secret["metadata"]["namespace"] == "airflow"
        assert json.loads(base64.b64decode(secret["data"]["connection"])) == {
            "conn_type": "slackwebhook",
            "password": url,
        }
        assert "XXXXSECRET" not in output(proc) + "\n".join(fake_cluster.calls(seen))  # never on a command line
        restarted = re.findall(r"deployment.apps/(\S+) restarted", proc.stdout)
        assert sorted(restarted) == [
            "airflow-api-server",
            "airflow-dag-processor",
            "airflow-scheduler",
            "airflow-triggerer",
        ]

    def test_slack_secret_refuses_a_url_that_would_break_the_json(self, fake_cluster: FakeClusterRun) -> None:
        proc = fake_cluster.make("slack-secret", SLACK_WEBHOOK_URL='https://x/"bad')
        assert proc.returncode != 0
        assert "must be an http(s) URL" in proc.stdout

    def test_port_forward_stops_every_forward_when_one_cannot_listen(self, fake_cluster: FakeClusterRun) -> None:
        """Without `wait -n` (macOS's bash 3.2 has none): a taken local port ends the target promptly."""
        up(fake_cluster)
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [free_port() for _ in range(4)]
        started = time.monotonic()
        try:
            proc = fake_cluster.make(
                "port-forward", f"WAREHOUSE_PORT={taken.getsockname()[1]}", f"MINIO_CONSOLE_PORT={ports[0]}",
                f"MINIO_API_PORT={ports[1]}", f"AIRFLOW_UI_PORT={ports[2]}", f"GRAFANA_PORT={ports[3]}", timeout=60,
            )  # fmt: skip
        finally:
            taken.close()
        assert proc.returncode != 0
        assert time.monotonic() - started < 30
        assert "A port-forward stopped" in proc.stdout and "Port-forwards stopped" in proc.stdout
        assert "Unable to listen on port" in proc.stderr
        leftovers = subprocess.run(["pgrep", "-f", f"port-forward svc/starlink-minio {ports[0]}"], capture_output=True)
        assert leftovers.returncode == 1, "a port-forward outlived the target"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
