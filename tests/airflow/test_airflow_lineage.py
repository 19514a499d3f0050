"""Lineage: OpenLineage events from a real task run (file transport), named like the assets; and
what a DAG scheduled on a new answer does with it (starlink/answers.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from airflow_helpers import BIN, DAGS, DS, clean_env


def test_a_task_run_emits_openlineage_events_with_its_datasets(
    airflow_db: Path, manifest: dict, sample_replay, tmp_path: Path
) -> None:
    """`airflow tasks test` of the first step with OpenLineage's file transport on (it is off unless
    a transport is configured): START and COMPLETE, the step's output as a `starlink` dataset."""
    events_file = tmp_path / "openlineage.jsonl"
    env = clean_env(
        PYTHONPATH=str(DAGS),
        STARLINK_EXECUTION="local",
        SPACEX_API_URL=sample_replay.spacex_url,
        LAKE_URL=(tmp_path / "lake").as_uri(),
        DATA_DIR=str(tmp_path / "data"),
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps({"type": "file", "log_file_path": str(events_file), "append": True}),
        AIRFLOW__OPENLINEAGE__NAMESPACE="starlink42k-test",
    )
    proc = subprocess.run(
        [str(BIN / "airflow"), "tasks", "test", "starlink_pipeline", "launches.extract", DS],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    ours = [e for e in events if e["job"]["name"] == "starlink_pipeline.launches.extract"]
    assert {e["eventType"] for e in ours} >= {"START", "COMPLETE"}
    (complete,) = [e for e in ours if e["eventType"] == "COMPLETE"]
    assert complete["job"]["namespace"] == "starlink42k-test"
    assert [(d["namespace"], d["name"]) for d in complete["outputs"]] == [("starlink", "raw/spacex/launches")]
    assert complete["inputs"] == []


def answer(ds: str, months: dict[str, str | None], in_orbit: int = 9000) -> dict:
    return {
        "ds": ds, "as_of": ds, "target_satellites": 42000, "satellites_in_orbit": in_orbit,
        "launches_per_month": 8.25,
        "scenarios": [{"scenario": s, "reaches_target_month": m} for s, m in months.items()],
    }  # fmt: skip


def test_the_answer_consumer_reads_the_lake_and_posts_only_changes(tmp_path: Path, monkeypatch) -> None:
    from starlink import answers

    for ds, months in (
        ("2026-11-01", {"constant_cadence": "2046-07"}),
        ("2026-11-02", {"constant_cadence": "2046-08"}),
    ):
        folder = tmp_path / "lake" / "reports" / "starlink" / f"ds={ds}"
        folder.mkdir(parents=True)
        (folder / "answer.json").write_text(json.dumps(answer(ds, months)))
    monkeypatch.setenv("STARLINK_LAKE_URL", (tmp_path / "lake").as_uri())
    monkeypatch.delenv("STARLINK_LAKE_CONN", raising=False)

    first, second = answers.read("2026-11-01"), answers.read("2026-11-02")
    assert first["ds"] == "2026-11-01"
    changed = answers.change_message(second, first)
    assert changed is not None and "constant cadence: 2046-08 (was 2046-07)" in changed
    assert answers.change_message(second, second) is None
    assert "constant cadence: 2046-07" in answers.change_message(first, None)  # the first answer ever
    with pytest.raises(FileNotFoundError):
        answers.read("2026-11-03")


def test_the_report_step_announces_its_ds(local_dag) -> None:
    """The report's outlet event carries the run's ds: what consumers read the answer by."""
    from airflow.sdk.execution_time.context import OutletEventAccessors
    from starlink import assets

    report = local_dag.get_task("report")
    assert report.announces_answer and [a.name for a in report.outlets] == ["starlink/report/answer"]
    events = OutletEventAccessors()
    report.announce({"outlet_events": events, "ds": DS})
    assert events[assets.ANSWER].extra == {"ds": DS}
