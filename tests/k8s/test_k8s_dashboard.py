"""The Grafana dashboard (charts/starlink-platform/dashboards/starlink42k.json): its JSON model, and
every query against what really answers it.

- The JSON is checked against a focused JSON schema of Grafana's dashboard model (the fields Grafana
  needs to load and draw it), then the layout (ids, grid) and the datasources (the uids
  k8s/grafana-values.yaml provisions).
- Every Prometheus query names only metrics our exporters emit, with labels they carry:
  Airflow's, as the statsd exporter names them through the mappings of the Airflow chart the tests
  render (with our values), each mapping matched by a StatsD name Airflow itself emits (its metrics
  registry, metrics_template.yaml, in the installed Airflow); postgres_exporter's default collectors;
  the kubelet's pod-start histograms; Prometheus' `up`.
- Every SQL query runs against a real warehouse after real pipeline runs, logged in as the read-only
  role the chart's hook script creates (before the runs, as in the cluster).
"""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import yaml
from k8s_helpers import AIRFLOW_NAMESPACE, CHART, K8S, ROOT, airflow_chart_dir, run_helm
from test_k8s_observability import drop_role, reader_script, reader_url, run_reader_script

from starlink42k import cli

DASHBOARD_FILE = CHART / "dashboards" / "starlink42k.json"
PROMETHEUS, POSTGRES = "prometheus", "grafana-postgresql-datasource"

# A focused schema of Grafana's dashboard JSON model (schemaVersion 36+): what Grafana requires to
# provision and draw this dashboard, and the target fields each of our two datasource types reads.
GRID_POS = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "additionalProperties": False,
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
}
DATASOURCE_REF = {
    "type": "object",
    "required": ["type", "uid"],
    "additionalProperties": False,
    "properties": {"type": {"enum": [PROMETHEUS, POSTGRES]}, "uid": {"type": "string", "minLength": 1}},
}
TARGET = {
    "type": "object",
    "required": ["refId", "datasource"],
    "properties": {"refId": {"type": "string", "pattern": "^[A-Z]$"}, "datasource": DATASOURCE_REF},
    "allOf": [
        {
            "if": {"properties": {"datasource": {"properties": {"type": {"const": PROMETHEUS}}}}},
            "then": {
                "required": ["expr"],
                "properties": {"expr": {"type": "string", "minLength": 1}, "legendFormat": {"type": "string"}},
            },
        },
        {
            "if": {"properties": {"datasource": {"properties": {"type": {"const": POSTGRES}}}}},
            "then": {
                "required": ["rawSql", "format", "rawQuery"],
                "properties": {
                    "rawSql": {"type": "string", "minLength": 1},
                    "format": {"enum": ["time_series", "table"]},
                    "rawQuery": {"const": True},
                },
            },
        },
    ],
}
PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "gridPos": GRID_POS,
        "type": {"enum": ["row", "timeseries", "stat", "table", "barchart", "bargauge", "gauge", "text"]},
    },
    "if": {"properties": {"type": {"const": "row"}}},
    "then": {"properties": {"collapsed": {"const": False}, "panels": {"maxItems": 0}}},
    "else": {
        "required": ["datasource", "targets", "fieldConfig", "options"],
        "properties": {
            "datasource": DATASOURCE_REF,
            "targets": {"type": "array", "minItems": 1, "items": TARGET},
            "fieldConfig": {"type": "object", "required": ["defaults", "overrides"]},
            "options": {"type": "object"},
        },
    },
}
DASHBOARD_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "time", "templating", "annotations"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "version": {"type": "integer"},
        "editable": {"type": "boolean"},
        "graphTooltip": {"enum": [0, 1, 2]},
        "timezone": {"enum": ["", "browser", "utc"]},
        "refresh": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "templating": {"type": "object", "required": ["list"]},
        "annotations": {"type": "object", "required": ["list"]},
        "panels": {"type": "array", "minItems": 1, "items": PANEL},
    },
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


def data_panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def targets(dashboard: dict, kind: str) -> Iterator[tuple[str, dict]]:
    for panel in data_panels(dashboard):
        for target in panel["targets"]:
            if target["datasource"]["type"] == kind:
                yield f"{panel['title']} [{target['refId']}]", target


# --- the JSON model --------------------------------------------------------------------------------


class TestModel:
    def test_the_schema_is_valid_and_the_dashboard_matches_it(self, dashboard: dict) -> None:
        jsonschema.Draft7Validator.check_schema(DASHBOARD_SCHEMA)
        errors = sorted(jsonschema.Draft7Validator(DASHBOARD_SCHEMA).iter_errors(dashboard), key=str)
        assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)

    @pytest.mark.parametrize(
        ("breakage", "complaint"),
        [
            (lambda d: d.pop("uid"), "'uid' is a required property"),
            (lambda d: d["panels"][1].pop("gridPos"), "'gridPos' is a required property"),
            (lambda d: d["panels"][1]["targets"][0].pop("rawSql"), "'rawSql' is a required property"),
            (lambda d: d["panels"][-1]["targets"][0].pop("expr"), "'expr' is a required property"),
            (lambda d: d["panels"][1].update(type="graph"), "is not one of"),
        ],
    )
    def test_the_schema_catches_what_grafana_would_refuse(self, dashboard: dict, breakage, complaint: str) -> None:
        broken = json.loads(json.dumps(dashboard))
        breakage(broken)
        messages = [e.message for e in jsonschema.Draft7Validator(DASHBOARD_SCHEMA).iter_errors(broken)]
        assert any(complaint in m for m in messages), messages

    def test_unique_ids_and_a_grid_without_overlaps(self, dashboard: dict) -> None:
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        cells: dict[tuple[int, int], str] = {}
        for panel in dashboard["panels"]:
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24, panel["title"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = panel["title"]

    def test_every_datasource_is_one_grafana_provisions(self, dashboard: dict) -> None:
        grafana = yaml.safe_load((K8S / "grafana-values.yaml").read_text())
        provisioned = {(d["type"], d["uid"]) for d in grafana["datasources"]["datasources.yaml"]["datasources"]}
        for panel in data_panels(dashboard):
            assert (panel["datasource"]["type"], panel["datasource"]["uid"]) in provisioned, panel["title"]
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"], panel["title"]

    def test_it_shows_what_the_issue_asks_for(self, dashboard: dict) -> None:
        exprs = " ".join(t["expr"] for _, t in targets(dashboard, PROMETHEUS))
        sql = " ".join(t["rawSql"] for _, t in targets(dashboard, POSTGRES))
        for metric in (
            "airflow_scheduler_heartbeat",  # scheduler heartbeat
            "airflow_dagrun_duration",  # DAG-run duration and outcome
            "airflow_dagrun_failed",
            "airflow_ti_finish",  # task failures and retries
            "kubelet_pod_start_total_duration_seconds",  # pod start latency
        ):
            assert metric in exprs, metric
        assert 'state="failed"' in exprs and 'state="up_for_retry"' in exprs
        for column in ("fetched_records", "rejected_records", "rows", "satellites_in_orbit"):
            assert column in sql, column
        assert "constant_cadence_reaches_target_month" in sql and "trend_cadence_reaches_target_month" in sql


# --- PromQL: which metrics and labels a query names ------------------------------------------------

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric, {label: value}) of every vector selector of a PromQL expression."""
    found = []
    text = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors and subqueries
    grouping = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
    text = grouping.sub(" ", text)
    for match in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?", text):
        name, matchers, call = match.groups()
        if call or name in KEYWORDS:
            continue  # a function or an aggregation
        labels = dict(re.findall(r'(\w+)\s*=~?\s*"([^"]*)"', matchers or ""))
        found.append((name, labels))
    return found


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip() for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr) for label in group.split(",")
    }


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("sum(rate(airflow_scheduler_heartbeat[$__rate_interval])) * 60", [("airflow_scheduler_heartbeat", {})]),
        (
            'sum by (task_id) (increase(airflow_ti_finish{dag_id="d", state="failed"}[1h]))',
            [("airflow_ti_finish", {"dag_id": "d", "state": "failed"})],
        ),
        (
            "histogram_quantile(0.9, sum by (le) (increase(kubelet_pod_start_sli_duration_seconds_bucket[1h])))",
            [("kubelet_pod_start_sli_duration_seconds_bucket", {})],
        ),
        ("a_sum / on (x) b_count and up", [("a_sum", {}), ("b_count", {}), ("up", {})]),
    ],
)
def test_the_promql_reader(expr: str, expected: list) -> None:
    assert selectors(expr) == expected


# --- what the exporters emit -----------------------------------------------------------------------


def statsd_mappings(helm_bin: Path) -> list[dict[str, Any]]:
    """The statsd exporter's mappings as the official Airflow chart renders them with our values."""
    out = run_helm(
        helm_bin, "template", "airflow", str(airflow_chart_dir()), "--namespace", AIRFLOW_NAMESPACE,
        "-f", str(K8S / "airflow-values.yaml"), "--show-only", "templates/configmaps/statsd-configmap.yaml",
    ).stdout  # fmt: skip
    return yaml.safe_load(yaml.safe_load(out)["data"]["mappings.yml"])["mappings"]


def airflow_statsd_names() -> dict[str, str]:
    """StatsD name -> type of every metric Airflow emits (prefix `airflow.`): the registry's names and
    legacy names, their variables filled with sample values (task ids with dots become `__`)."""
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.origin
    registry = Path(spec.origin).parent / "_shared" / "observability" / "metrics" / "metrics_template.yaml"
    sample = {"dag_id": "starlink_pipeline", "task_id": "launches__extract", "state": "failed",
              "operator_name": "KubernetesPodOperator", "job_name": "scheduler_job", "queue": "default",
              "executor_class_name": "KubernetesExecutor", "pool_name": "default_pool"}  # fmt: skip
    names = {}
    for metric in yaml.safe_load(registry.read_text())["metrics"]:
        for template in (metric["name"], metric.get("legacy_name", "-")):
            if template != "-":
                filled = re.sub(r"\{(\w+)\}", lambda m: sample.get(m.group(1), "x"), template)
                names[f"airflow.{filled}"] = metric["type"]
    return names


def statsd_match(mapping: dict[str, Any], name: str) -> bool:
    """statsd_exporter's matching: a glob `*` is one dot-free component; a regex is searched."""
    if mapping.get("match_type") == "regex":
        return re.search(mapping["match"], name) is not None
    pattern = "^" + re.escape(mapping["match"]).replace(r"\*", "[^.]+") + "$"
    return re.match(pattern, name) is not None


def first_mapping(mappings: list[dict], name: str) -> dict | None:
    """The mapping statsd_exporter applies: globs (its FSM) before regexes, each in file order."""
    ordered = [m for m in mappings if m.get("match_type") != "regex"] + [
        m for m in mappings if m.get("match_type") == "regex"
    ]
    return next((m for m in ordered if statsd_match(m, name)), None)


# Timers become summaries (statsd_exporter's default observer): <name>{quantile}, <name>_sum, <name>_count.
SUFFIXES = {"counter": ("",), "gauge": ("",), "timer": ("", "_sum", "_count")}

# postgres_exporter v0.17.1, default collectors (collector/*.go): name -> labels. pg_up is the
# exporter's own connection check.
POSTGRES_EXPORTER_VERSION = "v0.17.1"
POSTGRES_EXPORTER = {
    "pg_up": set(),
    "pg_database_size_bytes": {"datname"},  # collector `database`
    "pg_database_connection_limit": {"datname"},
    "pg_stat_database_numbackends": {"datid", "datname"},  # collector `stat_database`
    "pg_stat_database_xact_commit": {"datid", "datname"},
    "pg_stat_database_xact_rollback": {"datid", "datname"},
}
# The kubelet's pod-start histograms (pkg/kubelet/metrics/metrics.go), kept by the kubelet job.
KUBELET = {
    "kubelet_pod_start_sli_duration_seconds": {"first_with_network"},
    "kubelet_pod_start_total_duration_seconds": {"first_with_network"},
    "kubelet_pod_start_duration_seconds": set(),
}
HISTOGRAM = ("_bucket", "_sum", "_count")
TARGET_LABELS = {"job", "instance"}  # Prometheus adds these to every scraped series


@pytest.fixture(scope="module")
def emitted(helm_bin: Path) -> dict[str, set[str]]:
    """Every series name a dashboard query may use -> the labels it carries."""
    names: dict[str, set[str]] = {"up": set()}
    statsd = airflow_statsd_names()
    mappings = statsd_mappings(helm_bin)
    for mapping in mappings:
        matched = [n for n in statsd if first_mapping(mappings, n) is mapping]
        kinds = {statsd[n] for n in matched}
        for kind in kinds:
            for suffix in SUFFIXES[kind]:
                labels = set(mapping.get("labels", {}))
                names[mapping["name"] + suffix] = labels | ({"quantile"} if kind == "timer" and not suffix else set())
    names.update(POSTGRES_EXPORTER)
    for name, labels in KUBELET.items():
        for suffix in HISTOGRAM:
            names[name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return names


class TestPrometheusQueries:
    def test_every_metric_is_one_an_exporter_emits_with_the_labels_used(self, dashboard: dict, emitted) -> None:
        used = 0
        for where, target in targets(dashboard, PROMETHEUS):
            found = selectors(target["expr"])
            assert found, where
            for name, labels in found:
                used += 1
                assert name in emitted, f"{where}: {name} is emitted by no exporter we run"
                carried = emitted[name] | TARGET_LABELS
                assert set(labels) <= carried, f"{where}: {name} has no label {set(labels) - carried}"
            grouped = grouping_labels(target["expr"]) - {"le"}
            assert all(any(g in emitted[n] | TARGET_LABELS for n, _ in found) for g in grouped), where
        assert used >= 15

    def test_airflow_names_come_from_a_mapping_airflow_feeds(self, dashboard: dict, helm_bin: Path) -> None:
        """Each Airflow metric of the dashboard is a mapping's name, and Airflow emits a StatsD name that
        reaches that mapping first (so no earlier mapping shadows it)."""
        mappings = statsd_mappings(helm_bin)
        statsd = airflow_statsd_names()
        for where, target in targets(dashboard, PROMETHEUS):
            for name, _ in selectors(target["expr"]):
                if not name.startswith("airflow_"):
                    continue
                base = re.sub(r"_(sum|count)$", "", name)
                candidates = [m for m in mappings if m["name"] in (name, base)]
                assert candidates, f"{where}: {name} is no mapping's name"
                assert any(first_mapping(mappings, n) in candidates for n in statsd), f"{where}: nothing feeds {name}"

    def test_label_values_are_the_real_ones(self, dashboard: dict) -> None:
        dag_id = re.search(r'dag_id="(\w+)"', (ROOT / "airflow/dags/starlink_pipeline.py").read_text()).group(1)
        database = yaml.safe_load((CHART / "values.yaml").read_text())["warehouse"]["database"]
        states = {"success", "failed", "up_for_retry", "skipped", "upstream_failed", "up_for_reschedule"}
        for where, target in targets(dashboard, PROMETHEUS):
            for _, labels in selectors(target["expr"]):
                assert labels.get("dag_id", dag_id) == dag_id, where
                assert labels.get("datname", database) == database, where
                assert labels.get("state", "failed") in states, where

    def test_the_exporter_lists_match_what_the_cluster_runs(self) -> None:
        image = yaml.safe_load((CHART / "values.yaml").read_text())["observability"]["exporter"]["image"]
        assert image["tag"] == POSTGRES_EXPORTER_VERSION, "re-read the exporter's collectors for the new version"
        prometheus = yaml.safe_load((K8S / "prometheus-values.yaml").read_text())
        jobs = {j["job_name"]: j for j in prometheus["serverFiles"]["prometheus.yml"]["scrape_configs"]}
        keep = re.compile(f"^(?:{jobs['kubelet']['metric_relabel_configs'][0]['regex']})$")
        for name in KUBELET:
            for suffix in HISTOGRAM:
                assert keep.match(name + suffix), name + suffix


# --- SQL: run for real, as Grafana's read-only role -------------------------------------------------

DAYS = ("2024-01-30", "2024-01-31")


def grafana_sql(sql: str, start: date, end: date) -> str:
    """The macros our queries use, expanded as Grafana's PostgreSQL datasource does."""
    expanded = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m.group(1)} BETWEEN '{start.isoformat()}T00:00:00Z' AND '{end.isoformat()}T23:59:59Z'",
        sql,
    )
    assert "$__" not in expanded, f"a macro the test does not expand: {expanded}"
    return expanded


@pytest.mark.pipeline  # two whole pipeline runs
def test_every_sql_query_runs_as_the_read_only_role_after_real_runs(
    dashboard: dict, on: list[dict], pipeline_env: dict, warehouse_url: str, tmp_path: Path
) -> None:
    reader = f"grafana_{uuid.uuid4().hex[:8]}"
    # As in the cluster: the hook Job makes the role at install, before anything is loaded.
    run_reader_script(reader_script(on), warehouse_url, reader, "reader-password", tmp_path)
    try:
        for ds in DAYS:
            assert cli.main(["run", "--ds", ds]) == 0
        queries = list(targets(dashboard, POSTGRES))
        assert len(queries) >= 8
        with psycopg.connect(reader_url(warehouse_url, reader), autocommit=True) as conn:
            for where, target in queries:
                sql = grafana_sql(target["rawSql"], date(2024, 1, 1), date(2024, 2, 29))
                cur = conn.execute(sql)
                columns = [c.name for c in cur.description]
                rows = cur.fetchall()
                assert rows, f"{where}: no rows"
                if target["format"] == "time_series":
                    assert columns[0] == "time", where
                    values = [c for c in columns[1:] if c != "metric"]
                    assert values, where
                    for row in rows:
                        record = dict(zip(columns, row, strict=True))
                        assert isinstance(record["time"], date), where
                        assert all(record[v] is None or isinstance(record[v], int | float | Decimal) for v in values), (
                            where
                        )
                    if "metric" in columns:
                        assert {r[columns.index("metric")] for r in rows} == {"launches", "starlink"}, where
                        assert len({r[0] for r in rows}) == len(DAYS), where
            # The README's picture is drawn from these same queries (scripts/render_dashboard.py).
            script = render_script()
            results = script.query_pipeline_panels(conn, dashboard, date(2024, 1, 1), date(2024, 2, 29))
        png = tmp_path / "dashboard.png"
        script.draw(dashboard, results, png, datetime(2024, 2, 1), "test")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        drop_role(warehouse_url, reader)


def render_script() -> Any:
    spec = importlib.util.spec_from_file_location("render_dashboard", ROOT / "scripts" / "render_dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_shows_and_explains_the_dashboard(dashboard: dict) -> None:
    """The chart's README, where operating the platform is documented."""
    readme = (ROOT / "charts" / "starlink-platform" / "README.md").read_text()
    section = readme.split("\n## Backups and restore\n", 1)[0]
    for needed in ("make observability", "make port-forward", "starlink42k status", "](../../docs/dashboard.png)"):
        assert needed in section, needed
    assert (ROOT / "docs" / "dashboard.png").read_bytes()[:4] == b"\x89PNG"
    assert dashboard["title"] in section


@pytest.fixture
def on(render, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return render({"observability": {"enabled": True}}, tmp_path_factory.mktemp("dashboard"))
