"""Who can read the dbt docs pages that cosmos serves in the Airflow UI.

Runs Airflow's real API server app (FastAPI, in-process through a test client) in a subprocess,
so the plugins load with this test's settings: cosmos' `[cosmos] dbt_docs_projects` pointing at
docs in a local folder, and airflow/plugins (the login middleware) on or off.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_helpers import IMAGE_TAG, PLUGINS, clean_env

PROBE = """
import json
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app, get_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

client = TestClient(create_app(), raise_server_exceptions=False)  # a failing page is a 500, as served
token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
paths = [f"/cosmos/starlink42k/{name}" for name in ("dbt_docs_index.html", "manifest.json", "catalog.json")]
result = {
    "anonymous": [client.get(p).status_code for p in paths],
    "cookie": [client.get(p, cookies={"_token": token}).status_code for p in paths],
    "bearer": [client.get(p, headers={"Authorization": f"Bearer {token}"}).status_code for p in paths],
    "bad_token": client.get(paths[0], cookies={"_token": "not-a-jwt"}).status_code,
    "health": client.get("/api/v2/monitor/health").status_code,
    "body": client.get(paths[0], cookies={"_token": token}).text[-200:],
}
print(json.dumps(result))
"""


def probe(docs: Path | str, plugins_folder: Path, conn_id: str | None = None, **extra_env: str) -> dict:
    project = {"dir": str(docs), "index": "index.html", "name": "dbt docs (Starlink 42k)"}
    projects = {"starlink42k": {**project, **({"conn_id": conn_id} if conn_id else {})}}
    env = clean_env(
        **extra_env,
        AIRFLOW__COSMOS__DBT_DOCS_PROJECTS=json.dumps(projects),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins_folder),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__API_AUTH__JWT_SECRET="test-only-jwt-signing-key-0123456789abcdef",
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "dbt-docs"
    folder.mkdir()
    (folder / "index.html").write_text("<html><head></head><body>starlink42k dbt docs</body></html>")
    (folder / "manifest.json").write_text('{"nodes": {}}')
    (folder / "catalog.json").write_text('{"nodes": {}}')
    return folder


def test_cosmos_serves_the_docs_without_login(airflow_db, docs: Path, tmp_path: Path) -> None:
    """What the cluster has without our plugin: anyone reaching the API server reads the docs."""
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    found = probe(docs, empty)
    assert found["anonymous"] == [200, 200, 200]


def test_the_login_middleware_closes_them(airflow_db, docs: Path) -> None:
    found = probe(docs, PLUGINS)
    assert found["anonymous"] == [401, 401, 401]
    assert found["bad_token"] in (401, 403)
    assert found["cookie"] == [200, 200, 200]  # the UI's session cookie, sent with the docs iframe
    assert found["bearer"] == [200, 200, 200]
    assert "starlink42k dbt docs" in found["body"]
    assert found["health"] == 200  # the rest of the API is untouched


def test_the_cluster_upload_puts_the_docs_where_the_ui_reads_them(
    s3_endpoint: str, s3_bucket: str, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The docs pod's upload step (`starlink42k publish-docs`, as the pod runs it), against a real
    S3 API on loopback."""
    import os

    import boto3
    from starlink import tasks

    monkeypatch.setenv("STARLINK_EXECUTION", "kubernetes")
    monkeypatch.setenv("STARLINK_IMAGE_TAG", IMAGE_TAG)  # as the Airflow image sets it
    arguments = tasks.Steps().dbt_docs().arguments
    arguments[arguments.index("--from") + 1] = str(docs)  # the pod's /tmp/dbt/target is here
    env = clean_env(
        LAKE_URL=f"s3://{s3_bucket}",
        S3_ENDPOINT_URL=s3_endpoint,
        **{k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")},
    )
    cli = str(Path(sys.executable).parent / "starlink42k")
    subprocess.run([cli, *arguments], env=env, check=True, capture_output=True, timeout=120)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix="dbt-docs/")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "dbt-docs/catalog.json",
        "dbt-docs/index.html",
        "dbt-docs/manifest.json",
    ]
    assert s3.head_object(Bucket=s3_bucket, Key="dbt-docs/index.html")["ContentType"] == "text/html"


def test_the_ui_reads_the_docs_from_the_lake(airflow_db, s3_endpoint: str, s3_bucket: str, docs: Path) -> None:
    """k8s/airflow-values.yaml's setting: dir s3://starlink-lake/dbt-docs, conn lake_s3 (MinIO)."""
    import os

    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for f in docs.iterdir():
        s3.upload_file(str(f), s3_bucket, f"dbt-docs/{f.name}")
    connection = {
        "conn_type": "aws",
        "login": os.environ["AWS_ACCESS_KEY_ID"],
        "password": os.environ["AWS_SECRET_ACCESS_KEY"],
        "extra": {"endpoint_url": s3_endpoint, "region_name": os.environ["AWS_DEFAULT_REGION"]},
    }
    found = probe(f"s3://{s3_bucket}/dbt-docs", PLUGINS, conn_id="lake_s3", AIRFLOW_CONN_LAKE_S3=json.dumps(connection))
    assert found["cookie"] == [200, 200, 200]
