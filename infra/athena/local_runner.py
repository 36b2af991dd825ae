#!/usr/bin/env python3
"""Runs auditlake's Athena SQL locally: DuckDB over a folder laid out like the bucket.

The same files Athena runs (infra/athena/views/*.sql, infra/athena/queries/*.sql) are translated
from the Athena (Trino) dialect to DuckDB by sqlglot and run against the curated Parquet under
<data>/curated/source=<s>/dt=<d>/*.parquet (hive partitions become the source and dt columns, as
the Glue table's projected partitions do). The table DDL (tables/*.sql) is Athena-only: locally the
curated_events table is a view over read_parquet.

Usage:
  local_runner.py --data DIR --query NAME --params '["2024-01-01", "2024-01-02", 3]'
  local_runner.py --data DIR --sql FILE --params '[...]'
Prints one JSON object on stdout: {"columns": [{"name", "type"}], "rows": [[str|null, ...]]}.
Every value is a string (or null), as Athena's GetQueryResults returns them. Errors go to stderr
with exit code 1 (SQL or data problem) or 2 (usage).
"""

import argparse
import glob
import json
import os
import sys

import duckdb
import sqlglot

HERE = os.path.dirname(os.path.abspath(__file__))


def translate(sql: str) -> str:
    out = sqlglot.transpile(sql, read="athena", write="duckdb")
    if len(out) != 1:
        raise ValueError(f"expected one statement, got {len(out)}")
    return out[0]


def connect(data: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET autoinstall_known_extensions = false")
    files = glob.glob(os.path.join(data, "curated", "source=*", "dt=*", "*.parquet"))
    if not files:
        raise FileNotFoundError(f"no curated Parquet under {data}/curated/")
    pattern = os.path.join(data, "curated", "*", "*", "*.parquet").replace("'", "''")
    con.execute(
        "CREATE VIEW curated_events AS SELECT * FROM read_parquet("
        f"'{pattern}', hive_partitioning = true, union_by_name = true,"
        " hive_types = {'source': 'VARCHAR', 'dt': 'VARCHAR'})"
    )
    for path in sorted(glob.glob(os.path.join(HERE, "views", "*.sql"))):
        with open(path) as f:
            con.execute(translate(f.read()))
    return con


def run(con, sql: str, params: list) -> dict:
    query = translate(sql)
    # Athena hands every value back as text; do the same (and avoid pytz for TIMESTAMPTZ).
    cur = con.execute(f"SELECT COLUMNS(*)::VARCHAR FROM ({query}) AS q", params)
    names = [d[0] for d in cur.description]
    rows = [list(r) for r in cur.fetchall()]
    typed = con.execute(f"SELECT * FROM ({query}) AS q LIMIT 0", params)
    types = [str(d[1]) for d in typed.description]
    return {"columns": [{"name": n, "type": t} for n, t in zip(names, types)], "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder laid out like the bucket")
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--query", help="a hunting query name (infra/athena/queries/NAME.sql)")
    which.add_argument("--sql", help="a SQL file (Athena dialect)")
    ap.add_argument("--params", default="[]", help="JSON list of positional parameters")
    args = ap.parse_args()
    path = args.sql or os.path.join(HERE, "queries", f"{args.query}.sql")
    try:
        params = json.loads(args.params)
        if not isinstance(params, list):
            raise ValueError("--params must be a JSON list")
        with open(path) as f:
            sql = f.read()
        con = connect(args.data)
        json.dump(run(con, sql, params), sys.stdout)
        sys.stdout.write("\n")
        return 0
    except (OSError, ValueError, duckdb.Error, sqlglot.errors.SqlglotError) as e:
        print(f"local_runner: {path}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
