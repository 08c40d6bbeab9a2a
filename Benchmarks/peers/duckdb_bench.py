#!/usr/bin/env python3
"""DuckDB side of `kpid-bench query`.

Usage:
  duckdb_bench.py --probe       print the duckdb version, exit 3 if the module is missing
  duckdb_bench.py SPEC.json     run the benchmark described by SPEC.json

SPEC.json (written by QueryBench.swift):
  {"series_csv": path, "samples_csv": path, "runs": N, "warmup": W,
   "queries": [{"name": str, "sql": str}, ...]}

Loads both CSV files into an in-memory DuckDB database (timed), runs each query W times
untimed (warm-up), then N times (execute + fetchall) and prints one JSON object on stdout:
  {"version": str, "threads": int, "load_ms": float, "samples": int,
   "queries": [{"name": str, "rows": int, "last_column_sum": float, "times_ms": [float, ...]}, ...]}
last_column_sum adds up the last column of the rows (timestamps and intervals in milliseconds,
NULLs left out), for `kpid-bench query --check` to compare values as well as row counts.
Progress and errors go to stderr. Standard library only, apart from duckdb.
"""

import datetime
import json
import sys
import time

SKIPPED = 3  # exit code: the duckdb module is not installed


def import_duckdb():
    try:
        import duckdb
    except ImportError:
        print(
            "DuckDB skipped: the Python module 'duckdb' is not installed for "
            f"{sys.executable}; install it with `pip install duckdb` "
            "(or scripts/install-bench-deps.sh).",
            file=sys.stderr,
        )
        sys.exit(SKIPPED)
    return duckdb


def as_number(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.timestamp() * 1000
    if isinstance(v, datetime.timedelta):
        return v / datetime.timedelta(milliseconds=1)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    try:
        return float(v)  # Decimal
    except (TypeError, ValueError):
        return 0.0


def main(argv):
    duckdb = import_duckdb()
    if len(argv) == 2 and argv[1] == "--probe":
        print(duckdb.__version__)
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        spec = json.load(f)

    con = duckdb.connect(":memory:")
    started = time.perf_counter()
    con.execute(
        "CREATE TABLE series AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'id': 'INTEGER', 'metric': 'VARCHAR', 'site': 'VARCHAR', 'zone': 'VARCHAR', 'device': 'VARCHAR'})",
        [spec["series_csv"]],
    )
    con.execute(
        "CREATE TABLE samples AS SELECT * FROM read_csv(?, header = true, columns = "
        "{'series_id': 'INTEGER', 'ts': 'BIGINT', 'value': 'DOUBLE'})",
        [spec["samples_csv"]],
    )
    load_ms = (time.perf_counter() - started) * 1000
    samples = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"DuckDB {duckdb.__version__}: loaded {samples} samples in {load_ms / 1000:.1f} s", file=sys.stderr)

    results = []
    for q in spec["queries"]:
        times = []
        rows = []
        for _ in range(spec.get("warmup", 0)):
            con.execute(q["sql"]).fetchall()
        for _ in range(spec["runs"]):
            t = time.perf_counter()
            rows = con.execute(q["sql"]).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        total = sum(as_number(r[-1]) for r in rows if r[-1] is not None)
        results.append({"name": q["name"], "rows": len(rows), "last_column_sum": total, "times_ms": times})

    json.dump(
        {"version": duckdb.__version__, "threads": int(threads), "load_ms": load_ms, "samples": samples, "queries": results},
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
