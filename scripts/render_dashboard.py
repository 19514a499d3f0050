"""Draw a picture of the Grafana dashboard (docs/dashboard.png) from its own panel definitions.

No Grafana can run here (no image registry), so this lays the panels of
charts/starlink-platform/dashboards/starlink42k.json out by their gridPos, with their titles, and
draws:

* the pipeline panels (the PostgreSQL datasource) from REAL data: each panel's own SQL, run against
  the warehouse of `make demo` runs (bundled sample data) for the last few days;
* the Airflow, kubelet and postgres_exporter panels (the Prometheus datasource) as ILLUSTRATIVE
  shapes, each marked so: their data only exists in a running cluster.

    python scripts/render_dashboard.py                    # demo runs in a temporary folder, ~1 min a day
    python scripts/render_dashboard.py --days 3 --out docs/dashboard.png
    python scripts/render_dashboard.py --warehouse-url postgresql://...   # an existing warehouse instead

Needs the project installed (`make venv-dev` or `make venv-run`): matplotlib, psycopg, the CLI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "charts" / "starlink-platform" / "dashboards" / "starlink42k.json"
POSTGRES = "grafana-postgresql-datasource"

# Grafana's dark theme.
BACKGROUND, PANEL, BORDER, TEXT, MUTED = "#111217", "#181b1f", "#2c3235", "#ccccdc", "#8e8e9a"
PALETTE = ["#73bf69", "#f2cc0c", "#5794f2", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff"]

Result = tuple[list[str], list[tuple[Any, ...]]]


# --- the pipeline panels: their SQL against a warehouse --------------------------------------------


def grafana_sql(sql: str, start: date, end: date) -> str:
    """Expand the macros our queries use, as Grafana's PostgreSQL datasource does."""
    return re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m.group(1)} BETWEEN '{start.isoformat()}T00:00:00Z' AND '{end.isoformat()}T23:59:59Z'",
        sql,
    )


def query_pipeline_panels(conn: Any, dashboard: dict, start: date, end: date) -> dict[int, list[Result]]:
    """Panel id -> the result of each of its SQL targets."""
    results: dict[int, list[Result]] = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == POSTGRES:
                cur = conn.execute(grafana_sql(target["rawSql"], start, end))
                results.setdefault(panel["id"], []).append(([c.name for c in cur.description], cur.fetchall()))
    return results


def demo_warehouse(days: int, data_dir: Path) -> tuple[str, date, date]:
    """`make demo` for the last `days` days (UTC); the URL of its embedded warehouse."""
    from starlink42k import pipeline
    from starlink42k.settings import Settings

    os.environ["DATA_DIR"] = str(data_dir)
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    ctx = None
    for i in range(days):
        ctx, _ = pipeline.demo(Settings.from_env(), (start + timedelta(days=i)).isoformat())
    assert ctx is not None
    return ctx.warehouse.url, start, end


# --- drawing ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, int | float | Decimal) else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    if isinstance(value, int | float | Decimal):
        return f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def series_of(result: Result) -> dict[str, tuple[list[Any], list[float | None]]]:
    """Grafana's time-series format: `time`, an optional `metric`, value columns."""
    columns, rows = result
    out: dict[str, tuple[list[Any], list[float | None]]] = {}
    values = [c for c in columns if c not in ("time", "metric")]
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        for column in values:
            name = record.get("metric", column)
            xs, ys = out.setdefault(str(name), ([], []))
            when = record["time"]
            xs.append(datetime(when.year, when.month, when.day) if type(when) is date else when)
            ys.append(_number(record[column]))
    return out


def illustrative(panel: dict, now: datetime) -> tuple[str, Any]:
    """A plausible shape for a Prometheus panel, by what its queries measure."""
    exprs = " ".join(t["expr"] for t in panel["targets"])
    hours = [now - timedelta(hours=h) for h in range(24 * 30, -1, -3)]
    runs = [now.replace(hour=0, minute=40, second=0, microsecond=0) - timedelta(days=d) for d in range(29, -1, -1)]
    if panel["type"] == "stat":
        if "dagrun" in exprs:
            return "stat", [("succeeded", 29), ("failed", 1)]
        if "pg_up" in exprs:
            return "stat", [("pg_up", 1)]
        return "stat", [("prometheus", 1), ("airflow-statsd", 1), ("warehouse-postgres-exporter", 1), ("kubelet", 1)]
    if "heartbeat" in exprs:
        wave = [12 - (0.4 if i % 17 == 0 else 0) for i in range(len(hours))]
        return "lines", {"scheduler": (hours, wave), "DAG processor": (hours, [v - 0.3 for v in wave])}
    if "dagrun" in exprs:
        return "points", {
            "succeeded": (runs, [300 + 40 * math.sin(i / 3) for i in range(len(runs))]),
            "failed": ([runs[11]], [520]),
        }
    if "ti_finish" in exprs:
        return "bars", {"load_starlink retried": ([runs[11], runs[20]], [1, 1]), "report failed": ([runs[11]], [1])}
    if "pod_start" in exprs:
        return "points", {
            "p90, with image pulls": (runs, [9 + 3 * math.sin(i) ** 2 for i in range(len(runs))]),
            "p50, with image pulls": (runs, [4 + math.sin(i / 2) for i in range(len(runs))]),
            "p90, without image pulls": (runs, [3 + 0.5 * math.cos(i) for i in range(len(runs))]),
        }
    if "size_bytes" in exprs:
        return "lines", {"warehouse": (hours, [60e6 + 1.2e6 * (i // 8) for i in range(len(hours))])}
    return "lines", {"connections": (hours, [1 + (3 if (i % 8) == 0 else 0) for i in range(len(hours))])}


def axis_format(panel: dict) -> Any:
    """Tick labels in the panel's unit and decimals (fieldConfig.defaults), as Grafana shows them."""
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit, decimals = defaults.get("unit", "short"), defaults.get("decimals")

    def fmt(value: float, _pos: Any = None) -> str:
        if decimals is not None:
            return f"{value:.{decimals}f}"
        if unit == "bytes":
            return f"{value / 1e6:,.0f} MB"
        if unit == "s":
            return f"{value:g} s"
        return f"{value:,.0f}" if abs(value) >= 1000 or value == int(value) else f"{value:g}"

    return fmt


def draw(dashboard: dict, results: dict[int, list[Result]], out: Path, now: datetime, caption: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    unit_w, unit_h, top = 0.8, 0.32, 0.9  # inches per grid column / row; title band
    fig = plt.figure(figsize=(24 * unit_w, rows * unit_h + top), facecolor=BACKGROUND)
    width, height = fig.get_size_inches()
    fig.text(0.01, 1 - 0.35 / height, dashboard["title"], color=TEXT, fontsize=16, weight="bold", va="center")
    fig.text(0.99, 1 - 0.35 / height, caption, color=MUTED, fontsize=9, va="center", ha="right")

    def box(g: dict, pad: float = 0.06) -> list[float]:
        x0 = (g["x"] * unit_w + pad) / width
        y0 = 1 - (top + (g["y"] + g["h"]) * unit_h - pad) / height
        return [x0, y0, (g["w"] * unit_w - 2 * pad) / width, (g["h"] * unit_h - 2 * pad) / height]

    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        if panel["type"] == "row":
            fig.text(box(g)[0], box(g)[1] + box(g)[3] / 2, panel["title"], color=TEXT, fontsize=12, weight="bold")
            continue
        frame = fig.add_axes(box(g), facecolor=PANEL)
        frame.set_xticks([])
        frame.set_yticks([])
        for spine in frame.spines.values():
            spine.set_color(BORDER)
        frame.text(0.01, 0.97, panel["title"], transform=frame.transAxes, color=TEXT, fontsize=9, va="top")
        x0, y0, w, h = box(g)
        inner = [x0 + 0.35 / width, y0 + 0.3 / height, w - 0.5 / width, h - 0.75 / height]
        real = panel["datasource"]["type"] == POSTGRES
        if real:
            kind = {"stat": "stat", "table": "table"}.get(
                panel["type"], "bars" if "bars" in json.dumps(panel) else "lines"
            )
            (result,) = results[panel["id"]]
            if kind == "stat":
                columns, rows_ = result
                data: Any = list(zip(columns, rows_[0], strict=True)) if rows_ else []
            else:
                data = result if kind == "table" else series_of(result)
        else:
            kind, data = illustrative(panel, now)
            note = "illustrative" if g["w"] <= 4 else "illustrative shape, no cluster here"
            frame.text(0.99, 0.97, note, transform=frame.transAxes, color="#ff9830",
                       fontsize=7, va="top", ha="right", style="italic")  # fmt: skip
        if kind == "stat":
            for i, (name, value) in enumerate(data):
                cx = (i + 0.5) / max(len(data), 1)
                frame.text(cx, 0.45, _fmt(value), transform=frame.transAxes, color="#5794f2" if real else "#73bf69",
                           fontsize=20 if len(data) < 4 else 14, weight="bold", ha="center", va="center")  # fmt: skip
                frame.text(cx, 0.14, name, transform=frame.transAxes, color=MUTED, fontsize=8, ha="center")
            continue
        if kind == "table":
            columns, rows_ = data
            cells = [[_fmt(v) for v in row] for row in rows_[:7]]
            table = frame.table(cellText=cells or [["-"] * len(columns)], colLabels=columns, loc="upper center",
                                bbox=[0.01, 0.02, 0.98, 0.84])  # fmt: skip
            table.auto_set_font_size(False)
            table.set_fontsize(7.5)
            for cell in table.get_celld().values():
                cell.set_facecolor(PANEL)
                cell.set_edgecolor(BORDER)
                cell.get_text().set_color(TEXT)
            continue
        ax = fig.add_axes(inner, facecolor=PANEL)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(colors=MUTED, labelsize=7)
        ax.grid(color=BORDER, linewidth=0.5)
        for i, (name, (xs, ys)) in enumerate(data.items()):
            color = PALETTE[i % len(PALETTE)]
            if kind == "bars":
                offset = timedelta(hours=6 * (i - (len(data) - 1) / 2))
                ax.bar([x + offset if isinstance(x, datetime) else x for x in xs], [y or 0 for y in ys], width=0.25,
                       color=color, label=name)  # fmt: skip
            else:
                marker = "o" if kind == "points" or len(xs) < 12 else None
                ax.plot(xs, ys, color=color, linewidth=1.6, marker=marker, markersize=4, label=name,
                        linestyle="none" if kind == "points" and name == "failed" else "-")  # fmt: skip
        # The dashboard's time range, as Grafana draws it.
        ax.set_xlim(now - timedelta(days=30), now)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=7))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(axis_format(panel)))
        if kind == "bars" and not any(y for _, ys in data.values() for y in ys):
            ax.set_ylim(0, 1)
        if data:
            ax.legend(loc="upper left", fontsize=7, frameon=True, facecolor=PANEL, edgecolor=BORDER, labelcolor=TEXT,
                      ncol=min(len(data), 3), framealpha=0.85)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=72, facecolor=BACKGROUND)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    parser.add_argument("--days", type=int, default=3, help="demo runs, one per day up to today (default 3)")
    parser.add_argument("--warehouse-url", help="read this warehouse instead of running the demo")
    args = parser.parse_args(argv)

    import psycopg

    dashboard = json.loads(DASHBOARD.read_text())
    now = datetime.now(UTC).replace(tzinfo=None)
    with tempfile.TemporaryDirectory(prefix="starlink42k-dashboard-") as tmp:
        if args.warehouse_url:
            url, end = args.warehouse_url, now.date()
            start = end - timedelta(days=30)
            caption = "pipeline panels: real data of the given warehouse"
        else:
            url, start, end = demo_warehouse(args.days, Path(tmp))
            caption = f"pipeline panels: real data of `make demo` runs (sample data), {start} to {end}"
        with psycopg.connect(url, autocommit=True) as conn:
            results = query_pipeline_panels(conn, dashboard, start - timedelta(days=29 - args.days), end)
        if not args.warehouse_url:
            from starlink42k import warehouse

            warehouse.stop_embedded(Path(tmp) / "demo" / "warehouse")
    draw(dashboard, results, args.out, now, caption + "; Airflow, kubelet and exporter panels: illustrative")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
