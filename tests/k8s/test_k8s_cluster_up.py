"""`make cluster-up` for real, against the fake cluster (tests/k8s/fake_cluster.py): the real
top-level Makefile, images/images.mk and k8s/cluster.mk, the real scripts and git; kubectl, helm,
kind and docker answer from what `helm template` of both charts renders with cluster-up's own values
and --set flags."""

from __future__ import annotations

import pytest
from fake_cluster import FakeClusterRun

pytestmark = pytest.mark.cluster

TAG = "aaaa1111aaaa"


def output(proc) -> str:
    return proc.stdout + proc.stderr


class TestStep8:
    def test_a_healthy_install_passes_every_step(self, fake_cluster: FakeClusterRun) -> None:
        proc = fake_cluster.make("cluster-up", f"IMAGE_TAG={TAG}")
        assert proc.returncode == 0, output(proc)
        assert "==> 8/8" in proc.stdout and "Next: make port-forward" in proc.stdout

    def test_every_airflow_deployment_on_our_image_is_checked(self, fake_cluster: FakeClusterRun) -> None:
        """The deployments the check covers are the rendered ones that run our image: none left out."""
        proc = fake_cluster.make("cluster-up", f"IMAGE_TAG={TAG}")
        assert proc.returncode == 0, output(proc)
        ours = sorted(
            o["metadata"]["name"]
            for o in fake_cluster.objects()
            if o["kind"] == "Deployment"
            and o["metadata"]["namespace"] == "airflow"
            and o["spec"]["template"]["spec"]["containers"][0]["image"].startswith("starlink42k/airflow:")
        )
        assert len(ours) == 4, ours
        for name in ours:
            assert f"{name}=starlink42k/airflow:{TAG}" in proc.stdout, proc.stdout

    def test_a_deployment_left_on_its_previous_image_fails_the_run(self, fake_cluster: FakeClusterRun) -> None:
        first = fake_cluster.make("cluster-up", f"IMAGE_TAG={TAG}")
        assert first.returncode == 0, output(first)
        second = fake_cluster.make("cluster-up", "IMAGE_TAG=bbbb2222bbbb", FAKE_STALE="airflow-triggerer")
        assert second.returncode != 0
        assert f"airflow-triggerer=starlink42k/airflow:{TAG}" in output(second)
