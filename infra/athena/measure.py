#!/usr/bin/env python3
"""Measures the lake's size figures for BENCHMARKS.md on a folder laid out like the bucket.

Given <data>/raw/... (gzip NDJSON as the pullers write it) and <data>/curated/... (Parquet as the
pullers write it, one object per page and event date), prints:
- raw bytes and records, curated bytes and rows, and both per 1,000,000 events (linear
  extrapolation: both layers are compressed per object, so bytes grow with events at a fixed
  object size; the per-object overhead is what compaction removes);
- the curated layer compacted to one Parquet file per source and day (DuckDB's writer, zstd),
  which is what a compaction job would leave;
- the bytes the failed-sign-ins hunting query reads: the Parquet column chunks of the columns it
  touches (through the sign_ins and events views) in the sign-in partitions, which is what
  Athena bills for Parquet (partition projection prunes the other sources and days).

Usage: measure.py --data DIR   (prints Markdown)
"""

import argparse
import glob
import gzip
import os
import sys
import tempfile

import duckdb

# Columns the failed_sign_ins_by_user_country query reads (query + sign_ins view + events view).
FAILED_SIGN_INS_COLUMNS = [
    "id", "ingested_at", "time", "operation", "result", "actor_upn", "actor_id",
    "location_country", "client_ip",
]


def size(paths):
    return sum(os.path.getsize(p) for p in paths)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    raw = glob.glob(os.path.join(args.data, "raw", "**", "*.json.gz"), recursive=True)
    cur = glob.glob(os.path.join(args.data, "curated", "source=*", "dt=*", "*.parquet"))
    if not raw or not cur:
        print("measure.py: need raw/ and curated/ objects", file=sys.stderr)
        return 1
    raw_records = 0
    for p in raw:
        with gzip.open(p, "rb") as f:
            raw_records += sum(1 for _ in f)
    raw_bytes = size(raw)
    con = duckdb.connect()
    pattern = os.path.join(args.data, "curated", "*", "*", "*.parquet")
    rows = con.execute(
        f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true)"
    ).fetchone()[0]
    distinct = con.execute(
        f"SELECT count(DISTINCT id) FROM read_parquet('{pattern}', hive_partitioning = true)"
    ).fetchone()[0]
    cur_bytes = size(cur)

    with tempfile.TemporaryDirectory() as tmp:
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)) TO '{tmp}' "
            "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (source, dt))"
        )
        compacted = glob.glob(os.path.join(tmp, "**", "*.parquet"), recursive=True)
        compacted_bytes = size(compacted)

    signin_files = [p for p in cur if "source=entra-sign-ins" in p]
    signin_pattern = os.path.join(args.data, "curated", "source=entra-sign-ins", "*", "*.parquet")
    cols = ", ".join(f"'{c}'" for c in FAILED_SIGN_INS_COLUMNS)
    scanned, signin_rows = con.execute(
        f"SELECT sum(total_compressed_size), 0 FROM parquet_metadata('{signin_pattern}') "
        f"WHERE path_in_schema IN ({cols})"
    ).fetchone()
    signin_rows = con.execute(
        f"SELECT count(*) FROM read_parquet('{signin_pattern}')"
    ).fetchone()[0]
    signin_bytes = size(signin_files)

    per_m = lambda b, n: b / n * 1_000_000
    gib = lambda b: f"{b / 2**30:.2f} GiB"
    print(f"| layer | objects | events | bytes | bytes/event | per 1,000,000 events |")
    print(f"|---|---:|---:|---:|---:|---:|")
    print(f"| raw (gzip NDJSON, as received) | {len(raw)} | {raw_records} | {raw_bytes} | {raw_bytes / raw_records:.0f} | {gib(per_m(raw_bytes, raw_records))} |")
    print(f"| curated as written (Parquet, one object per page and day) | {len(cur)} | {rows} | {cur_bytes} | {cur_bytes / rows:.0f} | {gib(per_m(cur_bytes, rows))} |")
    print(f"| curated compacted (one Parquet per source and day) | {len(compacted)} | {rows} | {compacted_bytes} | {compacted_bytes / rows:.0f} | {gib(per_m(compacted_bytes, rows))} |")
    print()
    print(f"curated rows {rows}, distinct ids {distinct}")
    print(f"failed_sign_ins_by_user_country reads {len(FAILED_SIGN_INS_COLUMNS)} of 28 columns "
          f"in the sign-in partitions: {scanned} of {signin_bytes} bytes for {signin_rows} sign-ins "
          f"({scanned / signin_rows:.0f} bytes per sign-in; {gib(per_m(scanned, signin_rows))} per 1,000,000 sign-ins, "
          f"{100 * scanned / signin_bytes:.0f}% of the sign-in partitions' bytes, "
          f"{100 * scanned / cur_bytes:.0f}% of the whole curated layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
