"""Secrets: no credential in logs, error messages, the lake (answer, report, manifests), the
warehouse's tables or the rendered pod specs; and no secret committed to the repository.

The module's stack connects with a WAREHOUSE_URL that carries a password, and runs with AWS and
Slack credentials in its environment; its good run logs at debug level, as JSON. Every byte the runs
print or write is then searched for the credentials.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from fault_checks import GoodRun, assert_refused
from fault_stack import Stack

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Pw-s3cr3t-4f8e91c2"  # the warehouse password the module's runs use
ENV_SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAULTSUITE000042",
    "AWS_SECRET_ACCESS_KEY": "aws-s3cr3t-9d1b7e5a0c3f",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/TFAULT/BFAULT/slack-s3cr3t-77a1",
}
SECRETS = (PASSWORD, *ENV_SECRETS.values())
BASELINE = REPO / ".secrets.baseline"


@pytest.fixture(scope="module")
def stack_password() -> str:
    return PASSWORD


@pytest.fixture(scope="module")
def good_run_args() -> tuple[str, ...]:
    return ("-v", "--log-format", "json")


def assert_no_secret(what: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a credential ({secret[:6]}...) in {what}"


@pytest.mark.fault("Secrets", "a run with a password in WAREHOUSE_URL, debug JSON logs: no credential in any log line")
def test_no_credential_in_the_logs(ran: Stack, good_run: GoodRun) -> None:
    assert_no_secret("the run's stdout", good_run.stdout)
    assert_no_secret("the run's logs", good_run.stderr)
    # text logs, with the credentials in the environment; the reloaded launches published beside the rest
    for step in (("extract", "launches"), ("to-csv", "launches"), ("load", "launches"), ("publish",)):
        result = ran.run("-v", *step, "--ds", good_run.ds, **ENV_SECRETS)
        assert result.returncode == 0, result.stderr[-3000:]
        assert_no_secret(f"the text logs of {step[0]}", result.stdout + result.stderr)


@pytest.mark.fault("Secrets", "no credential in the lake (answer.json, report, manifests, rejects) or the warehouse")
def test_no_credential_in_the_lake_or_the_warehouse(ran: Stack, good_run: GoodRun) -> None:
    files = [p for p in ran.lake_dir.rglob("*") if p.is_file()]
    assert any(p.name == "answer.json" for p in files) and any(p.name == "report.md" for p in files)
    for path in files:
        assert_no_secret(str(path.relative_to(ran.lake_dir)), path.read_bytes().decode("utf-8", "replace"))
    with psycopg.connect(ran.warehouse_url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'staging', 'intermediate', 'marts')"
        ).fetchall()
        for schema, table in tables:
            rows = conn.execute(f'select t::text from "{schema}"."{table}" t').fetchall()  # names from the catalog
            assert_no_secret(f"{schema}.{table}", "\n".join(r[0] for r in rows))


@pytest.mark.fault("Secrets", "config, status and warehouse url print the URL masked")
def test_commands_print_the_url_masked(ran: Stack, good_run: GoodRun) -> None:
    for args in (["config"], ["config", "WAREHOUSE_URL"], ["status"], ["status", "--json"], ["warehouse", "url"]):
        result = ran.run(*args, **ENV_SECRETS)
        assert result.returncode == 0, result.stderr
        assert_no_secret(" ".join(args), result.stdout + result.stderr)
    assert ran.run("config", "WAREHOUSE_URL").stdout.startswith("postgresql://postgres:***@")


@pytest.mark.fault(
    "Secrets", "error messages name a WAREHOUSE_URL masked (unreachable, wrong database, not PostgreSQL)"
)
def test_error_messages_mask_the_password(ran: Stack, good_run: GoodRun) -> None:
    url = ran.env["WAREHOUSE_URL"]
    cases = {
        "no such database": re.sub(r"@/[^?]+\?", "@/no_such_db?", url),
        "unreachable host": f"postgresql://pipeline:{PASSWORD}@127.0.0.1:9/warehouse?connect_timeout=2",
        "a password with @ and /": f"postgresql://pipeline:{PASSWORD}@x/y@127.0.0.1:9/warehouse?connect_timeout=2",
        "the password as a parameter": f"postgresql://pipeline@127.0.0.1:9/warehouse?password={PASSWORD}",
        "not PostgreSQL": f"mysql://root:{PASSWORD}@db:3306/warehouse",
    }
    before = ran.snapshot()
    for case, bad in cases.items():
        result = ran.run("load", "launches", "--ds", good_run.ds, WAREHOUSE_URL=bad, **ENV_SECRETS)
        assert_refused(ran, result, before, "WAREHOUSE_URL" if case == "not PostgreSQL" else "warehouse")
        assert_no_secret(f"the error for {case}", result.stdout + result.stderr)


@pytest.mark.fault(
    "Secrets", "rendered pod specs: credentials only as secretKeyRef, none of the scheduler's env values"
)
def test_pod_specs_carry_no_literal_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(REPO / "tests" / "airflow"))
    try:
        import airflow_helpers as h  # sets a throwaway AIRFLOW_HOME before airflow is imported
    finally:
        sys.path.remove(str(REPO / "tests" / "airflow"))
    if not h.MANIFEST.exists():  # the DAG renders dbt from it (`make manifest`; tests/airflow builds it too)
        subprocess.run(
            [str(h.BIN / "dbt"), "parse", "--project-dir", str(h.DBT_DIR), "--profiles-dir", str(h.DBT_DIR),
             "--target-path", "target", "--log-path", str(h.DBT_DIR / "logs"), "--quiet"],
            env={**h.clean_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, check=True, timeout=300,
        )  # fmt: skip
    # The scheduler's environment holds credentials: none may be copied into a pod.
    for name, value in {**ENV_SECRETS, "WAREHOUSE_URL": f"postgresql://u:{PASSWORD}@db/w"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAREHOUSE_PASSWORD", PASSWORD)
    dag = h.load_dag(monkeypatch, STARLINK_EXECUTION="kubernetes")
    pods = {t.task_id: h.build_pod(t) for t in dag.tasks if hasattr(t, "build_pod_request_obj")}
    assert len(pods) >= 10
    for task_id, pod in pods.items():
        assert_no_secret(f"the pod of {task_id}", json.dumps(pod))
        for container in pod["spec"]["containers"]:
            for env in container.get("env") or []:
                sensitive = any(w in env["name"] for w in ("PASSWORD", "SECRET", "WAREHOUSE_URL", "TOKEN", "WEBHOOK"))
                if sensitive:
                    assert "secretKeyRef" in (env.get("valueFrom") or {}), f"{task_id}: {env['name']} is a literal"


def scan(paths: list[str]) -> set[tuple[str, str, str]]:
    """detect-secrets' findings in ``paths``: (file, type, hashed secret), without line numbers (which
    move with every edit)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "detect-secrets"), "scan", *paths],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return findings(json.loads(result.stdout))


def findings(report: dict) -> set[tuple[str, str, str]]:
    return {(path, f["type"], f["hashed_secret"]) for path, found in report["results"].items() for f in found}


@pytest.mark.fault("Secrets", "detect-secrets over every committed file: nothing beyond the audited baseline")
def test_repository_has_no_new_secret() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    files = [f for f in files if f != BASELINE.name and (REPO / f).is_file()]
    assert len(files) > 100
    baseline = json.loads(BASELINE.read_text())
    unaudited = [
        (p, f["type"]) for p, found in baseline["results"].items() for f in found if f.get("is_secret") is not False
    ]
    assert not unaudited, f"baseline entries not audited as false positives: {unaudited}"
    new = scan(files) - findings(baseline)
    assert not new, (
        "detect-secrets found possible secrets not in .secrets.baseline:\n"
        + "\n".join(f"  {path}: {kind}" for path, kind, _ in sorted(new))
        + "\nRemove real secrets; audit a false positive into the baseline with `make secrets-baseline`."
    )
