"""k8s/cluster.mk, included by a stand-in of the top-level Makefile: the commands, checked with
`make -n` (nothing runs). The targets run for real against the fake cluster in
test_k8s_cluster_up.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from k8s_helpers import CLUSTER_MK, ROOT, make_var_default

TARGETS = [
    "tools",
    "cluster-up",
    "cluster-steps",
    "cluster-info",
    "cluster-down",
    "port-forward",
    "slack-secret",
    "airflow-chart",
    "e2e",
]

# Steps of another target, not entry points (no `## ` description, not in `make help`).
INTERNAL = {"cluster-steps"}

# What the top-level Makefile provides to the include (same shell settings and `help`).
TOP_LEVEL = f"""\
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help-all
DOCKER := docker
MAKEFLAGS += --no-print-directory
.PHONY: help-all images
help-all: ### Show every entry point (as the top-level Makefile's: `## ` and `### ` entries)
\t@awk 'BEGIN {{FS = ":.*##+ "}} /^[a-zA-Z0-9_-]+:.*## / {{printf "  %-18s %s\\n", $$1, $$2}}' $(MAKEFILE_LIST)
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
    def test_help_all_lists_every_target(self, makefile: Path) -> None:
        out = run_make(makefile, "help-all").stdout
        for target in TARGETS:
            if target not in INTERNAL:
                assert re.search(rf"^\s+{target}\s+\S", out, re.MULTILINE), f"{target} missing from help"

    def test_every_target_has_a_one_line_description(self) -> None:
        text = CLUSTER_MK.read_text()
        (phony,) = re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE)
        assert sorted(phony.split()) == sorted(TARGETS)
        for target in TARGETS:
            if target not in INTERNAL:
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
            f"'{ROOT}/k8s/git-preflight.sh' 'https://example.com/org/repo.git' 'main' ''",
            "kind create cluster --name 'starlink42k'",
            "STUB images IMAGE_TAG=0123abcd4567",
            f"'{ROOT}/k8s/kind-load.sh' 'starlink42k' "
            "starlink42k/pipeline:0123abcd4567 starlink42k/dbt:0123abcd4567 starlink42k/airflow:0123abcd4567",
            f"kubectl --context kind-starlink42k apply -f '{ROOT}/k8s/namespaces.yaml'",
            "helm --kube-context kind-starlink42k upgrade --install starlink "
            f"'{ROOT}/charts/starlink-platform' --namespace starlink --wait",
            "helm --kube-context kind-starlink42k upgrade --install airflow airflow --repo https://airflow.apache.org "
            "--version " + make_var_default("AIRFLOW_CHART_VERSION"),
            "kubectl --context kind-starlink42k -n airflow rollout status deployment -l release=airflow",
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

    @pytest.mark.parametrize(
        ("remote", "https"),
        [
            ("git@github.com:org/repo.git", "https://github.com/org/repo.git"),
            ("ssh://git@github.com/org/repo.git", "https://github.com/org/repo.git"),
            ("ssh://git@gitlab.example.com:2222/group/sub/repo.git", "https://gitlab.example.com/group/sub/repo.git"),
            ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        ],
    )
    def test_ssh_remotes_become_https_without_a_key(self, makefile: Path, remote: str, https: str) -> None:
        out = dry_run(makefile, "cluster-up", f"GIT_REPO={remote}", "GIT_BRANCH=main")
        assert f"--set-string dags.gitSync.repo='{https}'" in out
        keyed = dry_run(makefile, "cluster-up", f"GIT_REPO={remote}", "GIT_BRANCH=main", "GIT_SSH_SECRET=k")
        assert f"--set-string dags.gitSync.repo='{remote}'" in keyed

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
        assert "get secret starlink-minio-root" in out and "get secret warehouse-credentials" in out
