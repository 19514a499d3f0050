"""The dbt project's SQL, read as text: constructs whose cost explodes with the catalogue are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DBT = Path(__file__).resolve().parents[1] / "dbt"
# `x not in (select ...)`: PostgreSQL runs the subquery for each row once its result outgrows work_mem
# (quadratic: issue 22's rerun ran for hours), and one null in it makes every row's answer null.
# Write `not exists (select from ... where ... = x)`, or a left join, and say what a null means.
NOT_IN_SUBQUERY = re.compile(r"\bnot\s+in\s*\(\s*select\b", re.IGNORECASE)
COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/|\{#.*?#\}", re.DOTALL)


def sql_files() -> list[Path]:
    return sorted(p for folder in ("models", "macros", "tests") for p in (DBT / folder).rglob("*.sql"))


def test_the_pattern_finds_what_it_refuses():
    sql = "select 1 from a where x NOT IN\n  ( -- the ids\n  SELECT id from b) and y not in ('a', 'b')"
    assert len(NOT_IN_SUBQUERY.findall(COMMENTS.sub(" ", sql))) == 1
    assert not NOT_IN_SUBQUERY.findall(COMMENTS.sub(" ", "where not exists (select from b) -- not in (select"))


@pytest.mark.parametrize("path", sql_files(), ids=lambda p: str(p.relative_to(DBT)))
def test_no_not_in_subquery(path: Path):
    code = COMMENTS.sub(" ", path.read_text())
    assert not NOT_IN_SUBQUERY.search(code), f"{path.relative_to(DBT)}: NOT IN (SELECT ...): use NOT EXISTS or a join"


def test_every_sql_file_is_checked():
    assert len(sql_files()) >= 20 and any(p.name == "int_satellites__assigned_to_launches.sql" for p in sql_files())
