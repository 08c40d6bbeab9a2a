#!/usr/bin/env bash
# Installs what `make bench` needs beyond the build: the duckdb Python module (PyPI) for the
# DuckDB column of `kpid-bench query`. Does nothing when it is already importable.
# Never fatal: without Python or pip the benchmark still runs and prints DuckDB as skipped.
PYTHON="${PYTHON:-python3}"

# The Prometheus peer is Debian's package (scripts/install-deps.sh installs it). The
# VictoriaMetrics peer of `kpid-bench ingest --peers victoriametrics` is Debian's too.
if ! command -v victoria-metrics >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    echo "install-bench-deps: installing victoria-metrics"
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends victoria-metrics; }; then
        echo "install-bench-deps: could not install victoria-metrics; the VictoriaMetrics peer will fail" >&2
    fi
fi
if ! command -v prometheus >/dev/null 2>&1; then
    echo "install-bench-deps: prometheus not found; the Prometheus ingest peer will fail (apt-get install prometheus)" >&2
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install-bench-deps: $PYTHON not found; the DuckDB column will be skipped (install Python 3, then pip install duckdb)" >&2
    exit 0
fi
"$PYTHON" -c 'import duckdb' >/dev/null 2>&1 && exit 0

echo "install-bench-deps: installing the duckdb Python module for $PYTHON"
if "$PYTHON" -m pip install --quiet duckdb; then exit 0; fi
# Debian's own Python refuses system-wide pip installs (PEP 668): install for this user instead.
if "$PYTHON" -m pip install --quiet --user --break-system-packages duckdb; then exit 0; fi
echo "install-bench-deps: could not install duckdb (pip install duckdb); the DuckDB column will be skipped" >&2
exit 0
