"""The README's commands, as a new user runs them: `make run` end to end against the API replays."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from starlink42k.replay import ReplayServer
from support import satcat_docs as sc

pytestmark = pytest.mark.pipeline  # `make run` end to end

REPO = Path(__file__).resolve().parents[1]


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(REPO), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=900
    )


def satcat_of(api_docs: dict) -> list[dict]:
    """The same satellites as CelesTrak lists them."""
    return [
        sc.record(t["NORAD_CAT_ID"], t["OBJECT_ID"], t["LAUNCH_DATE"], decay_date=t["DECAY_DATE"])
        for t in (d["spaceTrack"] for d in api_docs["starlink"])
    ]


def test_make_run_end_to_end(api_docs, warehouse_url, tmp_path):
    lake = tmp_path / "lake"
    with ReplayServer(spacex=api_docs, satcat=satcat_of(api_docs)) as server:
        env = {
            "SPACEX_API_URL": server.spacex_url,
            "CELESTRAK_URL": server.url,
            "LAKE_URL": lake.as_uri(),
            "WAREHOUSE_URL": warehouse_url,
            "DATA_DIR": str(tmp_path / "data"),
            "SPACEX_PAGE_SIZE": "250",
        }
        # The fixtures' SATCAT is years older than these ds: `make run` answers only when told to.
        first = make("run", "DS=2024-01-31", "ALLOW_STALE=1", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        second = make("run", "DS=2024-01-31", "ALLOW_STALE=1", env=env)  # a rerun of the same ds
        assert second.returncode == 0, second.stderr[-3000:]
        assert make("run", "DS=2024-02-01", "ALLOW_STALE=1", env=env).returncode == 0  # a second ds

    assert "satellites in orbit" in first.stdout and "When 42,000 are in orbit" in first.stdout
    for ds in ("2024-01-31", "2024-02-01"):
        raw = json.loads((lake / f"raw/spacex/starlink/ds={ds}/starlink.json").read_bytes())
        assert len(raw) == len(api_docs["starlink"])
        answer = json.loads((lake / f"reports/starlink/ds={ds}/answer.json").read_bytes())
        assert answer["ds"] == ds and {s["name"] for s in answer["sources"]} == {"spacex_api", "celestrak_satcat"}
    with psycopg.connect(warehouse_url) as conn:
        counts = conn.execute("select ds::text, count(*) from raw.starlink group by 1 order by 1").fetchall()
        satcat = conn.execute("select count(*) from raw.satcat").fetchone()[0]
    assert counts == [("2024-01-31", 1234), ("2024-02-01", 1234)]
    assert satcat == 2 * 1234
