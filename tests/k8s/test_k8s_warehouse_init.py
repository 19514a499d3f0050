"""The warehouse init script of the chart, run for real against PostgreSQL.

The script ships in a ConfigMap and runs once in the official image's entrypoint, which cannot
run here; so it runs the way the entrypoint runs it (an executable, with the entrypoint's
environment) against the project's embedded test PostgreSQL (`warehouse_url`, tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from k8s_helpers import find


@pytest.fixture
def init_script(objects: list[dict], tmp_path: Path) -> Path:
    (script,) = find(objects, "ConfigMap", "starlink-warehouse-initdb")["data"].values()
    path = tmp_path / "10-pipeline-role.sh"
    path.write_text(script)
    path.chmod(0o555)
    return path


def psql_dir() -> str:
    pgserver = pytest.importorskip("pgserver")
    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    if not (bin_dir / "psql").exists():
        pytest.skip("pgserver ships no psql here")
    return str(bin_dir)


def test_creates_the_role_that_owns_database_and_schemas(init_script: Path, warehouse_url: str) -> None:
    url = urlsplit(warehouse_url)
    database = url.path.lstrip("/")
    role = f"pipeline_{uuid.uuid4().hex[:8]}"
    env = {
        "PATH": f"{psql_dir()}:{os.environ['PATH']}",
        "PGHOST": parse_qs(url.query)["host"][0],
        # What the official image's entrypoint has in its environment when it runs the script.
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": "unused-locally",
        "POSTGRES_DB": database,
        "PIPELINE_USER": role,
        "PIPELINE_PASSWORD": "s3cr'et; DROP ROLE x; --",  # quoting must hold
        "PIPELINE_SCHEMAS": "raw analytics",
    }
    proc = subprocess.run([str(init_script)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            owner = conn.execute(
                "select pg_get_userbyid(datdba) from pg_database where datname = %s", (database,)
            ).fetchone()
            assert owner == (role,)
            schemas = dict(
                conn.execute(
                    "select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname in ('raw', 'analytics')"
                ).fetchall()
            )
            assert schemas == {"raw": role, "analytics": role}
            can_login, has_password = conn.execute(
                "select rolcanlogin, rolpassword is not null from pg_authid where rolname = %s", (role,)
            ).fetchone()
            assert can_login and has_password
            # As the role: write to its schemas and create new ones (dbt's custom schemas).
            conn.execute(f'set role "{role}"')
            conn.execute("create table raw.t (id int)")
            conn.execute("create schema analytics_staging")
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute("reset role")
            conn.execute(f'alter database "{database}" owner to current_user')
            conn.execute(f'drop owned by "{role}" cascade')
            conn.execute(f'drop role "{role}"')


def test_airflows_database_and_role_stay_apart_from_the_warehouse(
    objects: list[dict], init_script: Path, warehouse_url: str, tmp_path: Path
) -> None:
    """The hook of airflow-database.yaml, run twice (idempotent) after the init script: Airflow's role
    owns its own database only; neither role may connect to the other's database."""
    (text,) = find(objects, "ConfigMap", "starlink-warehouse-airflow-db")["data"].values()
    hook = tmp_path / "airflow-database.sh"
    hook.write_text(text)
    url = urlsplit(warehouse_url)
    warehouse, suffix = url.path.lstrip("/"), uuid.uuid4().hex[:8]
    pipeline, airflow, airflow_db = f"pipeline_{suffix}", f"airflow_{suffix}", f"airflow_{suffix}"
    base = {"PATH": f"{psql_dir()}:{os.environ['PATH']}", "PGHOST": parse_qs(url.query)["host"][0]}
    init_env = {**base, "POSTGRES_USER": url.username or "postgres", "POSTGRES_PASSWORD": "unused-locally",
                "POSTGRES_DB": warehouse, "PIPELINE_USER": pipeline, "PIPELINE_PASSWORD": "p",
                "PIPELINE_SCHEMAS": "raw"}  # fmt: skip
    hook_env = {**base, "PGPORT": "5432", "PGDATABASE": warehouse, "PGUSER": url.username or "postgres",
                "AIRFLOW_DB": airflow_db, "AIRFLOW_USER": airflow, "AIRFLOW_PASSWORD": "a'irflow; --"}  # fmt: skip
    proc = subprocess.run([str(init_script)], capture_output=True, text=True, env=init_env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        for _ in range(2):
            proc = subprocess.run(["bash", str(hook)], capture_output=True, text=True, env=hook_env, timeout=120)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            owner = conn.execute(
                "select pg_get_userbyid(datdba) from pg_database where datname = %s", (airflow_db,)
            ).fetchone()
            assert owner == (airflow,)
            connect = {
                (role, db): conn.execute("select has_database_privilege(%s, %s, 'CONNECT')", (role, db)).fetchone()[0]
                for role in (pipeline, airflow)
                for db in (warehouse, airflow_db)
            }
            assert connect == {
                (pipeline, warehouse): True, (pipeline, airflow_db): False,
                (airflow, warehouse): False, (airflow, airflow_db): True,
            }  # fmt: skip
            superuser, createdb = conn.execute(
                "select rolsuper, rolcreatedb from pg_roles where rolname = %s", (airflow,)
            ).fetchone()
            assert not superuser and not createdb
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{airflow_db}" with (force)')
            conn.execute(f'alter database "{warehouse}" owner to current_user')
            for role in (pipeline, airflow):
                conn.execute(f'drop owned by "{role}" cascade')
                conn.execute(f'drop role "{role}"')
