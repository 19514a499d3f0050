"""What the repository derives from the code, rewritten or checked in one place (`make docs`):

- README.md's configuration table: cog, from src/starlink42k/settings.py (``markdown_table``);
- charts/starlink-platform/values.schema.json's ``pipelineSettings``: the settings a user may set in
  the cluster, each with its type and bounds (``settings.chart_schema``).

    python scripts/generated.py --write   # rewrite them
    python scripts/generated.py --check   # exit 1 if any differs (tests/test_docs.py)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COGGED = [REPO / "README.md"]
SCHEMA = REPO / "charts" / "starlink-platform" / "values.schema.json"
KEY = '    "pipelineSettings": {'


def schema_block() -> str:
    """The pipelineSettings entry, one property per line, at the schema file's indentation."""
    from starlink42k.settings import chart_schema

    schema = chart_schema()
    properties = schema.pop("properties")
    lines = [KEY]
    lines += [f"      {json.dumps(k)}: {json.dumps(v)}," for k, v in schema.items()]
    lines.append('      "properties": {')
    items = [f"        {json.dumps(k)}: {json.dumps(v)}" for k, v in properties.items()]
    lines.append(",\n".join(items))
    lines += ["      }", "    }"]
    return "\n".join(lines)


def with_schema(text: str) -> str:
    """``text`` (values.schema.json) with its pipelineSettings entry replaced by the generated one."""
    start = text.index(KEY)
    depth, end = 0, start + len(KEY) - 1
    for end in range(start + len(KEY) - 1, len(text)):  # to the brace that closes the entry
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            break
    updated = text[:start] + schema_block() + text[end + 1 :]
    json.loads(updated)  # still one valid JSON document
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true")
    action.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    cog = [str(Path(sys.executable).parent / "cog"), "--check" if args.check else "-r", *map(str, COGGED)]
    cogged = subprocess.run(cog, cwd=REPO, capture_output=True, text=True)
    schema = SCHEMA.read_text()
    generated = with_schema(schema)
    if args.check:
        stale = [str(p.relative_to(REPO)) for p in COGGED] if cogged.returncode else []
        stale += [str(SCHEMA.relative_to(REPO))] if generated != schema else []
        if stale:
            print(f"not what the code gives: {', '.join(stale)}; run `make docs`", file=sys.stderr)
            return 1
        return 0
    if cogged.returncode:
        print(cogged.stdout + cogged.stderr, file=sys.stderr)
        return 1
    SCHEMA.write_text(generated)
    print(f"generated: {', '.join(str(p.relative_to(REPO)) for p in [*COGGED, SCHEMA])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
