"""`make e2e`: one whole DAG run on the kind cluster, checked end to end.

After `make cluster-up` with the in-cluster API replay (e2e.mk turns it on), this:
1. logs in to Airflow's REST API (the simple auth manager's generated password, read from the API
   server pod) and waits until the DAG is parsed, failing on an import error of its file;
2. triggers `starlink_pipeline` for DS, then unpauses it, and polls the run until it ends,
   printing progress; a failed run names its failed tasks. The e2e run must be the only run: the
   e2e cluster's scheduler creates none of its own (`make e2e`: use_job_schedule False; unpausing
   this @daily, catchup=False DAG would otherwise start its latest slot's run at once, ahead of
   the e2e run), and a run queued or started meanwhile fails the e2e;
3. reads the run's answer.json from MinIO (a port-forward; the keys from Secret lake-credentials)
   and compares it with what the embedded pipeline computes from the same sample data
   (`starlink42k demo`): the cluster and `make run` must give the same answer.
Exit 0 when all holds; 1 with one clear message otherwise (e2e.mk then exports kind's logs).

Runs with the project's .venv (requests, boto3, the starlink42k package for the typed answer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

DAG_ID = "starlink_pipeline"
# Where the API server writes the generated passwords (k8s/airflow-values.yaml, [core]).
PASSWORDS_FILE = "/tmp/simple_auth_manager_passwords.json.generated"  # noqa: S108
TERMINAL = {"success", "failed"}


class E2EFailure(Exception):
    """The end-to-end run did not hold; the message says where."""


@dataclass
class AirflowApi:
    """The few REST calls of the run, against Airflow 3's public API (/api/v2) and the simple auth
    manager's token endpoint (/auth/token)."""

    base_url: str
    username: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)
    timeout: float = 30.0

    def login(self) -> None:
        response = self.session.post(
            f"{self.base_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=self.timeout,
        )
        if response.status_code != 201:
            raise E2EFailure(f"login to {self.base_url} as {self.username} failed: HTTP {response.status_code}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def _call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float, poll: float = 5.0, sleep: Callable = time.sleep) -> None:
        """Until the DAG processor has parsed the DAG (git-sync, then parsing, take a minute or two)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._call("GET", f"/dags/{dag_id}").status_code == 200:
                return
            errors = self._call("GET", "/importErrors").json().get("import_errors", [])
            ours = [e for e in errors if dag_id in e.get("filename", "") or "starlink" in e.get("filename", "")]
            if ours:
                raise E2EFailure(
                    f"the DAG file does not import: {ours[0]['filename']}: {ours[0]['stack_trace'][-600:]}"
                )
            if time.monotonic() > deadline:
                raise E2EFailure(f"DAG {dag_id} not parsed after {timeout:.0f} s: is the branch pushed (git-sync)?")
            sleep(poll)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        response = self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        if response.status_code != 200:
            action = "pause" if paused else "unpause"
            raise E2EFailure(f"cannot {action} {dag_id}: HTTP {response.status_code} {response.text[:200]}")

    def start_only_run(self, dag_id: str, ds: str) -> str:
        """Trigger the e2e run, then unpause: on the e2e cluster the scheduler creates no run of its
        own (`make e2e` sets [scheduler] use_job_schedule False), so this run is the only one.
        Triggered first, so even on a cluster where the scheduler does create runs, none is due
        before the e2e run is queued."""
        self.set_paused(dag_id, True)
        run_id = self.trigger(dag_id, ds)
        self.set_paused(dag_id, False)
        return run_id

    def other_runs(self, dag_id: str, run_id: str, since: str) -> list[str]:
        """Runs other than the e2e run that are queued, or started since it was triggered."""
        runs = [
            *self._call("GET", f"/dags/{dag_id}/dagRuns", params={"state": "queued"}).json().get("dag_runs", []),
            *self._call("GET", f"/dags/{dag_id}/dagRuns", params={"start_date_gte": since}).json().get("dag_runs", []),
        ]
        return sorted({r["dag_run_id"] for r in runs} - {run_id})

    def replace_runs_of(self, dag_id: str, logical_date: str) -> list[str]:
        """Delete earlier runs of the same logical date (a second `make e2e`, or a scheduled run): a DAG
        has one run per logical date, so the trigger would be refused with 409."""
        response = self._call(
            "GET",
            f"/dags/{dag_id}/dagRuns",
            params={"logical_date_gte": logical_date, "logical_date_lte": logical_date},
        )
        if response.status_code != 200:
            raise E2EFailure(
                f"cannot list runs of {dag_id} at {logical_date}: HTTP {response.status_code} {response.text[:200]}"
            )
        earlier = response.json().get("dag_runs", [])
        for run in earlier:
            run_id = run["dag_run_id"]
            print(f"    replacing the earlier run {run_id} of {logical_date} ({run['state']})", flush=True)
            if run["state"] not in TERMINAL:  # a queued or running run cannot be deleted: end it first
                self._call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
            deleted = self._call("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}")
            if deleted.status_code not in (204, 404):
                raise E2EFailure(f"cannot delete the earlier run {run_id}: HTTP {deleted.status_code}")
        return [run["dag_run_id"] for run in earlier]

    def trigger(self, dag_id: str, logical_date: str) -> str:
        """A manual run at this logical date (an ISO timestamp, or a date for its midnight UTC)."""
        if len(logical_date) == 10:
            logical_date = f"{logical_date}T00:00:00Z"
        self.replace_runs_of(dag_id, logical_date)
        run_id = f"e2e__{logical_date[:10]}__{int(time.time())}"
        response = self._call(
            "POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": logical_date}
        )
        if response.status_code != 200:
            raise E2EFailure(
                f"cannot trigger {dag_id} at {logical_date}: HTTP {response.status_code} {response.text[:300]}"
            )
        return response.json()["dag_run_id"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        response = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500})
        return {t["task_id"]: t["state"] or "none" for t in response.json().get("task_instances", [])}

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float, poll: float = 10.0, sleep: Callable = time.sleep
    ) -> str:
        """The run's final state; raises with the failed tasks when it failed, or on the timeout."""
        deadline, last = time.monotonic() + timeout, ""
        while True:
            state = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            counts: dict[str, int] = {}
            for task_state in self.task_states(dag_id, run_id).values():
                counts[task_state] = counts.get(task_state, 0) + 1
            progress = f"{state}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            if progress != last:
                print(f"    {progress}", flush=True)
                last = progress
            if state in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise E2EFailure(f"run {run_id} still {state} after {timeout:.0f} s ({progress})")
            sleep(poll)
        if state != "success":
            failed = sorted(
                t for t, s in self.task_states(dag_id, run_id).items() if s in ("failed", "upstream_failed")
            )
            raise E2EFailure(f"run {run_id} {state}; failed tasks: {', '.join(failed) or 'none recorded'}")
        return state


def read_answer(bucket: str, ds: str, endpoint_url: str, access_key: str, secret_key: str) -> bytes:
    """reports/starlink/ds=<ds>/answer.json from the lake bucket."""
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client(
        "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name="us-east-1",
    )  # fmt: skip
    from starlink42k.lake import report_prefix

    key = report_prefix(ds) + "answer.json"
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise E2EFailure(f"s3://{bucket}/{key} cannot be read: {exc}") from None


# Fields that say when and from which host a run fetched its data: not part of the answer itself.
VOLATILE_SOURCE_FIELDS = ("fetched_at", "url")


def comparable(answer_json: bytes) -> dict:
    """The answer without what differs between two runs of the same data (time, replay host)."""
    from starlink42k.answer import Answer

    answer = Answer.from_json(answer_json).to_dict()
    answer.pop("data_loaded_at")
    answer.pop("data_fetched_at")
    answer.pop("files")
    for source in answer["sources"]:
        for name in VOLATILE_SOURCE_FIELDS:
            source.pop(name)
    return answer


def compare(cluster: bytes, embedded: bytes) -> None:
    a, b = comparable(cluster), comparable(embedded)
    if a != b:
        differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        raise E2EFailure(f"the cluster's answer differs from the embedded run's in: {', '.join(differing)}")


# --- the cluster side: kubectl ------------------------------------------------------------------------


def kubectl(context: str, *args: str) -> str:
    proc = subprocess.run(["kubectl", "--context", context, *args], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise E2EFailure(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def secret_value(context: str, namespace: str, secret: str, key: str) -> str:
    import base64

    data = kubectl(context, "-n", namespace, "get", "secret", secret, "-o", f"jsonpath={{.data.{key}}}")
    return base64.b64decode(data).decode()


def admin_password(context: str) -> str:
    """The password the simple auth manager generated for `admin` (in the API server pod)."""
    raw = kubectl(
        context, "-n", "airflow", "exec", "deploy/airflow-api-server", "--",
        "cat", PASSWORDS_FILE,
    )  # fmt: skip
    return json.loads(raw)["admin"]


@contextlib.contextmanager
def port_forward(context: str, namespace: str, service: str, port: int) -> Iterator[str]:
    """http://127.0.0.1:<free port> forwarded to the service's port, for the duration."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    proc = subprocess.Popen(
        ["kubectl", "--context", context, "-n", namespace, "port-forward", f"svc/{service}", f"{local}:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", local)) != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise E2EFailure(f"port-forward to {namespace}/{service}:{port} did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        proc.wait(10)


def embedded_answer(ds: str) -> bytes:
    """answer.json of `starlink42k demo` (the same sample data, embedded) for DS."""
    with tempfile.TemporaryDirectory(prefix="starlink42k-e2e-") as data:
        cli = Path(sys.executable).parent / "starlink42k"
        env = {**os.environ, "DATA_DIR": data}
        try:
            subprocess.run([str(cli), "-q", "demo", "--ds", ds], env=env, check=True, capture_output=True, timeout=900)
            from starlink42k.lake import report_prefix

            return (Path(data) / "demo" / "lake" / report_prefix(ds) / "answer.json").read_bytes()
        finally:
            subprocess.run([str(cli), "-q", "warehouse", "stop"], env=env, capture_output=True, timeout=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ds", required=True, help="the run's logical date, YYYY-MM-DD")
    parser.add_argument("--context", default="kind-starlink42k", help="kubectl context of the cluster")
    parser.add_argument(
        "--airflow-url", default="http://127.0.0.1:8080", help="the Airflow UI/API, as kind publishes it"
    )
    parser.add_argument("--lake-bucket", default="starlink-lake")
    parser.add_argument("--dag-timeout", type=float, default=600)
    parser.add_argument("--run-timeout", type=float, default=2400)
    args = parser.parse_args(argv)
    try:
        print(f"==> e2e 1/3 Airflow at {args.airflow_url}: log in, wait for {DAG_ID}", flush=True)
        api = AirflowApi(args.airflow_url, "admin", admin_password(args.context))
        api.login()
        api.wait_for_dag(DAG_ID, args.dag_timeout)
        print(f"==> e2e 2/3 trigger {DAG_ID} for {args.ds}, unpause, wait for the run", flush=True)
        triggered = datetime.now(UTC).isoformat()
        run_id = api.start_only_run(DAG_ID, args.ds)
        started = time.monotonic()
        api.wait_for_run(DAG_ID, run_id, args.run_timeout)
        print(f"    {run_id} succeeded in {time.monotonic() - started:.0f} s", flush=True)
        others = api.other_runs(DAG_ID, run_id, triggered)
        if others:
            raise E2EFailure(f"the e2e run was not the only run: {', '.join(others)}")
        print("==> e2e 3/3 answer.json from MinIO against the embedded run of the same data", flush=True)
        access = secret_value(args.context, "starlink", "lake-credentials", "access-key-id")
        secret = secret_value(args.context, "starlink", "lake-credentials", "secret-access-key")
        with port_forward(args.context, "starlink", "starlink-minio", 9000) as endpoint:
            cluster = read_answer(args.lake_bucket, args.ds, endpoint, access, secret)
        compare(cluster, embedded_answer(args.ds))
    except E2EFailure as exc:
        print(f"\ne2e failed: {exc}", file=sys.stderr)
        return 1
    answer = json.loads(cluster)
    in_orbit, as_of = answer["satellites_in_orbit"], answer["as_of"]
    print(f"e2e passed: {in_orbit:,} satellites in orbit as of {as_of}, the same answer as `make demo`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
