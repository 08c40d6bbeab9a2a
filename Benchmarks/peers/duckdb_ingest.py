#!/usr/bin/env python3
"""DuckDB peer of `kpid-bench ingest --peers duckdb`: loads the benchmark's samples two ways.

kpid-bench writes the samples it sent to kpid as a CSV file (series_id,ts,value, in arrival
order). This script loads them into fresh DuckDB file databases the ways a developer would:

- "batches": the rows read into NumPy arrays first (not timed), then inserted `--batch` rows
  at a time, one transaction each (INSERT ... SELECT from the arrays), as kpid gets them in
  requests and commits each one;
- "copy": one COPY statement from the CSV file (one transaction; parsing included).

Each ends with CHECKPOINT, so the data is in the database file, not only in its write-ahead
log. It prints one JSON object: {"version": ..., "batches": {"seconds": ..., "rows": ...},
"copy": {...}}; rows are counted back after the load.
"""
import argparse
import json
import os
import sys
import time

try:
    import duckdb
except ImportError:
    sys.exit("duckdb_ingest.py: the duckdb Python module is missing (pip install duckdb)")

SCHEMA = "CREATE TABLE samples (series_id INTEGER NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL)"


def fresh(path):
    for p in (path, path + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    con = duckdb.connect(path)
    con.execute(SCHEMA)
    return con


def count(con):
    return con.execute("SELECT count(*) FROM samples").fetchone()[0]


def load_batches(path, csv, batch):
    # The rows in memory first, as a service would hold a decoded request.
    columns = duckdb.connect().execute(
        f"SELECT series_id::INTEGER AS series_id, ts::BIGINT AS ts, value::DOUBLE AS value "
        f"FROM read_csv('{csv}', header = true)"
    ).fetchnumpy()
    series_id, ts, value = columns["series_id"], columns["ts"], columns["value"]
    con = fresh(path)
    began = time.perf_counter()
    for start in range(0, len(ts), batch):
        rows = {
            "series_id": series_id[start:start + batch],
            "ts": ts[start:start + batch],
            "value": value[start:start + batch],
        }
        con.execute("BEGIN")
        con.register("rows_view", rows)
        con.execute("INSERT INTO samples SELECT series_id, ts, value FROM rows_view")
        con.unregister("rows_view")
        con.execute("COMMIT")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - began
    rows = count(con)
    con.close()
    return {"seconds": seconds, "rows": rows}


def load_copy(path, csv):
    con = fresh(path)
    began = time.perf_counter()
    con.execute(f"COPY samples FROM '{csv}' (HEADER)")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - began
    rows = count(con)
    con.close()
    return {"seconds": seconds, "rows": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True, help="series_id,ts,value with a header line")
    parser.add_argument("--database", required=True, help="DuckDB file to create (removed first and after)")
    parser.add_argument("--batch", type=int, default=10000, help="rows a transaction in the batches load")
    args = parser.parse_args()
    out = {"version": duckdb.__version__}
    try:
        out["batches"] = load_batches(args.database, args.csv, args.batch)
        out["copy"] = load_copy(args.database, args.csv)
    finally:
        for p in (args.database, args.database + ".wal"):
            if os.path.exists(p):
                os.remove(p)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
