"""k8s/cluster.mk, included by a stand-in of the top-level Makefile.

Commands are checked with `make -n` (nothing runs); `tools` and `slack-secret` run for real
against stub docker/kind/helm/kubectl executables on a PATH that holds nothing else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from k8s_helpers import CLUSTER_MK, ROOT, make_var_default

TARGETS = ["tools", "cluster-up", "cluster-info", "cluster-down", "port-forward", "slack-secret", "airflow-chart"]

# What the top-level Makefile provides to the include (same shell settings and `help`).
TOP_LEVEL = f"""\
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
.PHONY: help images
help: ## Show every entry point
\t@awk 'BEGIN {{FS = ":.*## "}} /^[a-zA-Z0-9_-]+:.*## / {{printf "  %-16s %s\\n", $$1, $$2}}' $(MAKEFILE_LIST)
IMAGE_TAG ?= 0123abcd4567
images: ## Build the images (stub)
\t@echo "STUB images IMAGE_TAG=$(IMAGE_TAG)"
include {CLUSTER_MK}
"""

GIT = ["GIT_REPO=https://example.com/org/repo.git", "GIT_BRANCH=main"]


@pytest.fixture(scope="module")
def makefile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("make") / "Makefile"
    path.write_text(TOP_LEVEL)
    return path


def run_make(makefile: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path or os.environ["PATH"], "HOME": str(makefile.parent), "LC_ALL": "C"}
    make = shutil.which("make")
    assert make, "GNU make is needed for these tests"
    return subprocess.run(
        [make, "-f", str(makefile), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )


def dry_run(makefile: Path, target: str, *args: str) -> str:
    proc = run_make(makefile, "-n", target, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class TestTargets:
    def test_help_lists_every_target(self, makefile: Path) -> None:
        out = run_make(makefile, "help").stdout
        for target in TARGETS:
            assert re.search(rf"^\s+{target}\s+\S", out, re.MULTILINE), f"{target} missing from help"

    def test_every_target_has_a_one_line_description(self) -> None:
        text = CLUSTER_MK.read_text()
        (phony,) = re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE)
        assert sorted(phony.split()) == sorted(TARGETS)
        for target in TARGETS:
            assert re.search(rf"^{target}:[^\n]*## \S", text, re.MULTILINE), target

    def test_variables_have_overridable_defaults(self) -> None:
        for name in (
            "CLUSTER_NAME",
            "GIT_REPO",
            "GIT_BRANCH",
            "GIT_SUBPATH",
            "AIRFLOW_CHART_VERSION",
        ):
            assert make_var_default(name)
        assert "remote get-url origin" in make_var_default("GIT_REPO")
        assert make_var_default("GIT_SUBPATH") == "airflow/dags"
        assert re.fullmatch(r"\d+\.\d+\.\d+", make_var_default("AIRFLOW_CHART_VERSION"))


class TestClusterUp:
    def test_steps_in_order(self, makefile: Path) -> None:
        out = dry_run(makefile, "cluster-up", *GIT)
        steps = [
            "kind create cluster --name 'starlink42k'",
            "STUB images IMAGE_TAG=0123abcd4567",
            "kind load docker-image --name 'starlink42k' "
            "starlink42k/pipeline:0123abcd4567 starlink42k/dbt:0123abcd4567 starlink42k/airflow:0123abcd4567",
            f"kubectl --context kind-starlink42k apply -f '{ROOT}/k8s/namespaces.yaml'",
            "helm --kube-context kind-starlink42k upgrade --install starlink "
            f"'{ROOT}/charts/starlink-platform' --namespace starlink --wait",
            "helm repo add apache-airflow https://airflow.apache.org",
            "helm --kube-context kind-starlink42k upgrade --install airflow apache-airflow/airflow --version "
            + make_var_default("AIRFLOW_CHART_VERSION"),
            "kubectl --context kind-starlink42k -n airflow wait --for=condition=Available deployment",
            "Next: make port-forward",
        ]
        positions = [out.find(step) for step in steps]
        for step, pos in zip(steps, positions, strict=True):
            assert pos >= 0, f"missing step: {step}\n{out}"
        assert positions == sorted(positions), "steps out of order"
        assert f"--config '{ROOT}/kind-config.yaml'" in out

    def test_airflow_gets_the_values_file_and_the_git_settings(self, makefile: Path) -> None:
        out = dry_run(makefile, "cluster-up", *GIT, "GIT_SUBPATH=somewhere/dags")
        assert f"-f '{ROOT}/k8s/airflow-values.yaml'" in out
        for expected in [
            "--set-string dags.gitSync.repo='https://example.com/org/repo.git'",
            "--set-string dags.gitSync.branch='main'",
            "--set-string dags.gitSync.ref='main'",
            "--set-string dags.gitSync.subPath='somewhere/dags'",
            "--set-string images.airflow.tag=0123abcd4567",
        ]:
            assert expected in out
        assert "sshKeySecret" not in out
        with_ssh = dry_run(makefile, "cluster-up", *GIT, "GIT_SSH_SECRET=airflow-git-ssh")
        assert "--set-string dags.gitSync.sshKeySecret='airflow-git-ssh'" in with_ssh

    def test_github_ssh_remote_becomes_https_without_a_key(self, makefile: Path) -> None:
        ssh = "GIT_REPO=git@github.com:org/repo.git"
        out = dry_run(makefile, "cluster-up", ssh, "GIT_BRANCH=main")
        assert "--set-string dags.gitSync.repo='https://github.com/org/repo.git'" in out
        keyed = dry_run(makefile, "cluster-up", ssh, "GIT_BRANCH=main", "GIT_SSH_SECRET=k")
        assert "--set-string dags.gitSync.repo='git@github.com:org/repo.git'" in keyed

    def test_the_tag_flows_into_every_image(self, makefile: Path) -> None:
        out = dry_run(makefile, "cluster-up", *GIT, "IMAGE_TAG=9e8d7c6b5a4f")
        assert "STUB images IMAGE_TAG=9e8d7c6b5a4f" in out
        assert "starlink42k/pipeline:9e8d7c6b5a4f starlink42k/dbt:9e8d7c6b5a4f starlink42k/airflow:9e8d7c6b5a4f" in out
        assert "--set-string images.airflow.tag=9e8d7c6b5a4f" in out
        assert "--set-string defaultAirflowTag=9e8d7c6b5a4f" in out
        assert ":latest" not in out

    def test_every_cluster_command_names_its_context(self, makefile: Path) -> None:
        out = dry_run(makefile, "cluster-up", *GIT, "CLUSTER_NAME=other")
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("kubectl "):
                assert line.startswith("kubectl --context kind-other "), line
            if line.startswith("helm ") and not line.startswith("helm repo "):
                assert line.startswith("helm --kube-context kind-other "), line

    def test_refuses_to_run_without_a_repository(self, makefile: Path) -> None:
        out = dry_run(makefile, "cluster-up", "GIT_REPO=", "GIT_BRANCH=main")
        assert 'test -n ""' in out  # the guard that stops a real run, with the fix in its message
        assert "make cluster-up GIT_REPO=" in out


class TestOtherTargets:
    def test_cluster_down(self, makefile: Path) -> None:
        out = dry_run(makefile, "cluster-down")
        assert "kind delete cluster --name 'starlink42k'" in out
        assert "Next: make cluster-up" in out

    def test_port_forward(self, makefile: Path) -> None:
        out = dry_run(makefile, "port-forward")
        assert "trap 'kill $pids" in out
        assert "port-forward svc/starlink-minio 9001:9001 9000:9000" in out
        assert "port-forward svc/starlink-warehouse 5432:5432" in out
        assert "port-forward svc/airflow-api-server 8080:8080" in out
        assert "-n starlink" in out and "-n airflow" in out

    def test_cluster_info_names_urls_and_logins(self, makefile: Path) -> None:
        out = run_make(makefile, "cluster-info", *GIT).stdout
        assert "http://127.0.0.1:8080" in out and "http://127.0.0.1:9001" in out
        assert "exec deploy/airflow-api-server -- cat" in out
        assert "get secret lake-credentials" in out and "get secret warehouse-credentials" in out


# --- real runs against stubs ------------------------------------------------------------------


def stub_path(tmp_path: Path, tools: dict[str, str]) -> str:
    """A PATH holding only the coreutils the recipes use and the given stub scripts."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for util in ("grep", "head", "sort", "cat", "dirname"):
        real = shutil.which(util)
        assert real, util
        (bin_dir / util).symlink_to(real)
    for name, body in tools.items():
        script = bin_dir / name
        script.write_text("#!/bin/bash\n" + body + "\n")
        script.chmod(0o755)
    return str(bin_dir)


TOOLS_OK = {
    "docker": 'case "$1" in version) echo 28.2.2;; info) exit 0;; esac',
    "kind": 'echo "kind v0.33.0 go1.24.6 linux/amd64"',
    "helm": "echo v4.1.4",
    "kubectl": 'echo "Client Version: v1.37.1"; echo "Kustomize Version: v5.7.1"',
}


class TestToolsCheck:
    def test_all_present(self, makefile: Path, tmp_path: Path) -> None:
        proc = run_make(makefile, "tools", path=stub_path(tmp_path, TOOLS_OK))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        for name, version in [
            ("docker", "28.2.2"),
            ("kind", "0.33.0"),
            ("helm", "4.1.4"),
            ("kubectl", "1.37.1"),
        ]:
            assert re.search(rf"{name}\s+{re.escape(version)}\s+ok", proc.stdout), proc.stdout
        assert "Next: make cluster-up" in proc.stdout

    def test_older_version_is_reported(self, makefile: Path, tmp_path: Path) -> None:
        tools = {**TOOLS_OK, "kind": 'echo "kind v0.20.0 go1.20.4 linux/amd64"'}
        proc = run_make(makefile, "tools", path=stub_path(tmp_path, tools))
        assert re.search(r"kind\s+0\.20\.0\s+older than tested \(0\.33\.0\)", proc.stdout), proc.stdout

    def test_missing_tool_fails_with_where_to_get_it(self, makefile: Path, tmp_path: Path) -> None:
        tools = {k: v for k, v in TOOLS_OK.items() if k != "kubectl"}
        proc = run_make(makefile, "tools", path=stub_path(tmp_path, tools))
        assert proc.returncode != 0
        assert re.search(r"kubectl\s+MISSING\s+install it: https://kubernetes.io/docs/tasks/tools/", proc.stdout)

    def test_docker_daemon_down_fails(self, makefile: Path, tmp_path: Path) -> None:
        tools = {**TOOLS_OK, "docker": 'case "$1" in version) echo 28.2.2;; info) exit 1;; esac'}
        proc = run_make(makefile, "tools", path=stub_path(tmp_path, tools))
        assert proc.returncode != 0
        assert "daemon does not answer" in proc.stdout


class TestSlackSecret:
    KUBECTL = r"""
echo "$*" >> "$(dirname "$0")/kubectl.log"
case "$*" in
  *"create secret generic slack-alerts"*) cat > "$(dirname "$0")/connection.json"; echo "kind: Secret";;
  *"apply -f -"*) cat > /dev/null;;
esac
"""

    def test_requires_the_url(self, makefile: Path, tmp_path: Path) -> None:
        proc = run_make(makefile, "slack-secret", path=stub_path(tmp_path, {"kubectl": self.KUBECTL}))
        assert proc.returncode != 0
        assert "Usage: make slack-secret SLACK_WEBHOOK_URL=" in proc.stdout

    def test_refuses_a_url_that_would_break_the_json(self, makefile: Path, tmp_path: Path) -> None:
        path = stub_path(tmp_path, {"kubectl": self.KUBECTL})
        proc = run_make(makefile, "slack-secret", 'SLACK_WEBHOOK_URL=https://x/"bad', path=path)
        assert proc.returncode != 0
        assert not (tmp_path / "bin" / "connection.json").exists()

    def test_writes_the_connection_without_echoing_the_url(self, makefile: Path, tmp_path: Path) -> None:
        url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
        proc = run_make(
            makefile,
            "slack-secret",
            f"SLACK_WEBHOOK_URL={url}",
            path=stub_path(tmp_path, {"kubectl": self.KUBECTL}),
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        connection = json.loads((tmp_path / "bin" / "connection.json").read_text())
        assert connection == {"conn_type": "slackwebhook", "password": url}
        assert "XXXXSECRET" not in proc.stdout + proc.stderr
        log = (tmp_path / "bin" / "kubectl.log").read_text()
        assert "--context kind-starlink42k -n airflow create secret generic slack-alerts" in log
        assert "rollout restart deployment -l release=airflow" in log
        assert "XXXXSECRET" not in log  # never on a command line
