"""A real Airflow on loopback, as separate processes, for what only they do: the scheduler deferring a
task straight to the triggerer (start_from_trigger), the triggerer ending it, the DAG processor
running DAG-level callbacks. dag.test() does none of these the way the cluster does.

    api-server     the Execution API the LocalExecutor's tasks talk to
    scheduler      LocalExecutor (tasks as local processes: the executor is not what is tested)
    dag-processor  parses the DAGs, runs DAG callbacks
    triggerer      runs the triggers, with this repository's plugins folder on its path

Metadata in a database of the embedded PostgreSQL (several processes write at once), Airflow's home
in a temporary folder. Every port is a free one: the machine is shared. Runs and task instances are
read from the metadata database directly.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from airflow_helpers import BIN, PLUGINS, clean_env

from support.net import free_port, wait_for_port

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


class AirflowProcesses:
    def __init__(self, home: Path, dags: Path, database_url: str, env: dict[str, str]) -> None:
        self.home, self.dags, self.database_url = home, dags, database_url
        api_port = free_port()
        sqlalchemy_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.env = clean_env(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(PLUGINS),
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlalchemy_url,
            # psycopg 3 is async too (Airflow would pick asyncpg, which the project does not install)
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=sqlalchemy_url,
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(api_port),
            AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{api_port}",
            # one key for the API server and the scheduler that issues the tasks' tokens
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(16),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            # Runs are the tests' own: none from schedules (a scheduled run would queue ahead of them).
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            # A shared 2-core machine can keep the API server busy for longer than the default 5 s.
            AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="60",
            PYTHONPATH=str(dags),
            **env,
        )
        self.api_port = api_port
        self.procs: dict[str, subprocess.Popen] = {}

    def airflow(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate", timeout=600)
        for name in COMPONENTS:
            log = (self.home / f"{name}.log").open("w")
            self.procs[name] = subprocess.Popen(
                [str(BIN / "airflow"), name], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for_port(self.api_port, timeout=180)

    def stop(self) -> None:
        for proc in self.procs.values():  # each component with its children (its own session)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def logs(self) -> str:
        """Where the logs are, and the errors the tasks raised."""
        errors = []
        for path in sorted((self.home / "logs").glob("dag_id=*/run_id=*/task_id=*/attempt=*.log")):
            for line in path.read_text(errors="replace").splitlines():
                if '"exc_value"' in line or "error:" in line:
                    errors.append(f"{path.parent.name}/{path.name}: {line[:600]}")
        return f"logs: {self.home}\n" + "\n".join(errors[-40:])

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def wait_for_dag(self, dag_id: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not self.query("select 1 from serialized_dag where dag_id = %s", dag_id):
            self._alive()
            assert time.monotonic() < deadline, f"{dag_id} was not parsed in {timeout} s\n{self.logs()}"
            time.sleep(1)

    def trigger(self, dag_id: str, logical_date: datetime, conf: dict | None = None) -> str:
        run_id = f"test__{logical_date.isoformat()}"
        self.airflow(
            "dags", "trigger", dag_id, "--logical-date", logical_date.isoformat(), "--run-id", run_id,
            "--conf", json.dumps(conf or {}),
        )  # fmt: skip
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while True:
            [(state,)] = self.query("select state from dag_run where dag_id = %s and run_id = %s", dag_id, run_id)
            if state in ("success", "failed"):
                return state
            self._alive()
            assert time.monotonic() < deadline, f"{run_id} still {state} after {timeout} s\n{self.logs()}"
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        columns = ("task_id", "state", "try_number", "queued_dttm", "hostname", "start_date", "end_date")
        rows = self.query(
            f"select {', '.join(columns)} from task_instance where dag_id = %s and run_id = %s", dag_id, run_id
        )
        return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every log file of the task's tries: the task's, and its trigger's (the triggerer's part)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("attempt=*")))

    def _alive(self) -> None:
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        assert not dead, f"{dead} exited\n{self.logs()}"
