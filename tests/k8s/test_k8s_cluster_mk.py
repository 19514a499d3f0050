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

TARGETS = [
    "tools",
    "cluster-up",
    "cluster-info",
    "cluster-down",
    "port-forward",
    "slack-secret",
    "airflow-chart",
    "e2e",
]

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


# --- `make cluster-up` for real, twice, against stubs that record their calls ------------------------

# The stubs keep their state (cluster created, loaded images, helm releases) in $STUB_STATE and log
# every call; kubectl answers the deployment images from the last `helm upgrade ... airflow`, as
# the cluster would once the rollout it waits for is done (or a stale image, when told so).
CLUSTER_STUBS = {
    "kind": r"""
echo "kind $*" >> "$STUB_STATE/calls.log"
case "$1 $2" in
  "version "*) echo "kind v0.33.0 go1.24.6 linux/amd64";;
  "get clusters") [ -f "$STUB_STATE/cluster" ] && echo starlink42k; true;;
  "create cluster") touch "$STUB_STATE/cluster";;
  "load docker-image")
    [ -z "${STUB_KIND_LOAD_FAILS:-}" ] || { echo "ERROR: content digest sha256:0 not found" >&2; exit 1; };;
  "load image-archive") [ -z "${STUB_ARCHIVE_FAILS:-}" ] || exit 1;;
esac""",
    "docker": r"""
echo "docker $*" >> "$STUB_STATE/calls.log"
case "$1" in
  version) echo 28.2.2;;
  info) exit 0;;
  image) echo "sha256:${STUB_IMAGE_ID:-aaaa}";;
  save) shift; [ "$1" = -o ] && echo archive > "$2";;
esac""",
    "helm": r"""
echo "helm $*" >> "$STUB_STATE/calls.log"
case "$*" in *version*) echo v4.1.4;; esac
case "$*" in *"upgrade --install airflow"*) echo "$*" > "$STUB_STATE/airflow-release";; esac""",
    "kubectl": r"""
echo "kubectl $*" >> "$STUB_STATE/calls.log"
case "$*" in
  *"version --client"*) echo "Client Version: v1.37.1";;
  *"get deployment"*)
    tag=$(grep -o 'images.airflow.tag=[^ ]*' "$STUB_STATE/airflow-release" | cut -d= -f2)
    for d in airflow-scheduler airflow-api-server airflow-dag-processor airflow-triggerer; do
      echo "$d=starlink42k/airflow:${STUB_RUNNING_TAG:-$tag}"
    done;;
esac""",
    "git": r"""
echo "git $*" >> "$STUB_STATE/calls.log"
case "$*" in
  *ls-remote*)
    case "${STUB_GIT:-ok}" in
      ok) printf '1111111111111111111111111111111111111111\trefs/heads/main\n';;
      missing) exit 2;;
      private) echo "fatal: could not read Username for 'https://github.com': terminal prompts disabled" >&2; exit 128;;
    esac;;
  *rev-parse*) echo 1111111111111111111111111111111111111111;;
esac""",
}
UTILS = ("bash", "env", "sed", "grep", "head", "sort", "cat", "cut", "dirname", "mktemp", "rm", "timeout", "touch")


def cluster_path(tmp_path: Path) -> str:
    path = stub_path(tmp_path, CLUSTER_STUBS)
    for util in UTILS:
        if not (Path(path) / util).exists():
            (Path(path) / util).symlink_to(shutil.which(util))
    return path


def cluster_up(makefile: Path, path: str, state: Path, *args: str, **stub_env: str) -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": str(state), "LC_ALL": "C", "STUB_STATE": str(state), **stub_env}
    return subprocess.run(
        [shutil.which("make"), "-f", str(makefile), "cluster-up", *GIT, *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip


def calls(state: Path, since: int = 0) -> list[str]:
    return (state / "calls.log").read_text().splitlines()[since:]


class TestClusterUpRuns:
    def test_a_second_run_with_a_changed_build_rolls_airflow_onto_it(self, makefile: Path, tmp_path: Path) -> None:
        path, state = cluster_path(tmp_path), tmp_path
        first = cluster_up(makefile, path, state, "IMAGE_TAG=aaaa1111aaaa", STUB_IMAGE_ID="1d1d")
        assert first.returncode == 0, first.stdout + first.stderr
        log = calls(state)
        assert "kind create cluster --name starlink42k --config " + f"{ROOT}/kind-config.yaml --wait 180s" in log
        (upgrade,) = [c for c in log if "upgrade --install airflow" in c]
        assert "images.airflow.tag=aaaa1111aaaa" in upgrade and "defaultAirflowTag=aaaa1111aaaa" in upgrade
        assert "airflowPodAnnotations.starlink42k/image-id=sha256:1d1d" in upgrade

        # A code or dbt change: a new tag; the images are loaded and helm moves every pod template to it.
        seen = len(calls(state))
        second = cluster_up(makefile, path, state, "IMAGE_TAG=bbbb2222bbbb", STUB_IMAGE_ID="2e2e")
        assert second.returncode == 0, second.stdout + second.stderr
        log = calls(state, seen)
        assert not [c for c in log if c.startswith("kind create")], "the cluster is reused"
        (load,) = [c for c in log if c.startswith("kind load")]
        assert load.endswith(
            "starlink42k/pipeline:bbbb2222bbbb starlink42k/dbt:bbbb2222bbbb starlink42k/airflow:bbbb2222bbbb"
        )
        (upgrade,) = [c for c in log if "upgrade --install airflow" in c]
        assert "images.airflow.tag=bbbb2222bbbb" in upgrade and "image-id=sha256:2e2e" in upgrade
        rollout = [i for i, c in enumerate(log) if "rollout status deployment -l release=airflow" in c]
        assert rollout and rollout[0] > log.index(next(c for c in log if "upgrade --install airflow" in c))
        assert "every Airflow deployment runs starlink42k/airflow:bbbb2222bbbb" in second.stdout

        # The same tag on another base (another image ID): still a roll, through the annotation.
        seen = len(calls(state))
        third = cluster_up(makefile, path, state, "IMAGE_TAG=bbbb2222bbbb", STUB_IMAGE_ID="3f3f")
        assert third.returncode == 0, third.stdout + third.stderr
        (upgrade,) = [c for c in calls(state, seen) if "upgrade --install airflow" in c]
        assert "image-id=sha256:3f3f" in upgrade

    def test_a_deployment_left_on_an_old_image_fails_the_run(self, makefile: Path, tmp_path: Path) -> None:
        proc = cluster_up(makefile, cluster_path(tmp_path), tmp_path, "IMAGE_TAG=cccc", STUB_RUNNING_TAG="old")
        assert proc.returncode != 0
        assert "Airflow deployments not on starlink42k/airflow:cccc" in proc.stdout

    def test_kind_load_falls_back_to_an_image_archive(self, makefile: Path, tmp_path: Path) -> None:
        proc = cluster_up(makefile, cluster_path(tmp_path), tmp_path, STUB_KIND_LOAD_FAILS="1")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        log = calls(tmp_path)
        assert [c for c in log if c.startswith("docker save -o ")]
        assert [c for c in log if c.startswith("kind load image-archive --name starlink42k ")]
        assert "trying docker save + kind load image-archive" in proc.stderr
        assert "loaded with docker save + kind load image-archive" in proc.stdout

    def test_when_neither_load_works_the_message_says_what_was_tried(self, makefile: Path, tmp_path: Path) -> None:
        env = {"STUB_KIND_LOAD_FAILS": "1", "STUB_ARCHIVE_FAILS": "1"}
        proc = cluster_up(makefile, cluster_path(tmp_path), tmp_path, **env)
        assert proc.returncode != 0
        assert "neither with 'kind load docker-image'" in proc.stderr and "kind load image-archive" in proc.stderr
        assert not [c for c in calls(tmp_path) if "upgrade --install" in c], "nothing is installed"

    @pytest.mark.parametrize(
        ("behaviour", "message"),
        [
            ("missing", "cannot find branch 'main'"),
            ("private", "cannot clone https://example.com/org/repo.git anonymously"),
        ],
    )
    def test_git_sync_preflight_stops_before_anything_is_installed(
        self, makefile: Path, tmp_path: Path, behaviour: str, message: str
    ) -> None:
        proc = cluster_up(makefile, cluster_path(tmp_path), tmp_path, STUB_GIT=behaviour)
        assert proc.returncode != 0
        assert message in proc.stderr
        log = calls(tmp_path)
        assert [c for c in log if "ls-remote --exit-code --heads https://example.com/org/repo.git refs/heads/main" in c]
        assert not [c for c in log if c.startswith("kind create") or " upgrade " in c]
