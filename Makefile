# kpid: the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift
DATA ?= ./data
PORT ?= 9464
BIND ?= 127.0.0.1

.PHONY: deps build run test test-shifted bench lint clean fuzz soak

deps:
	@./scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product kpid

DEMO ?= true
# Starts kpid on the embedded default: SQLite under ./data and the live demo (8 generated weeks
# of the Fixtures/sites.json sites ending now, then fed as time passes). `make run DEMO=false`
# starts without it; `make run DATA=./other` on another data directory.
run: build
	@mkdir -p $(DATA)
	@echo "kpid on http://$(BIND):$(PORT)/  weekly reviews: http://$(BIND):$(PORT)/reports  (e.g. http://$(BIND):$(PORT)/reports/weekly?site=JFK, the last complete week)"
	.build/release/kpid serve --data $(DATA) --bind $(BIND) --port $(PORT) --demo $(DEMO)

# Builds everything (the tests start the real kpid binary) and runs every test.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# The date-sensitive suites (fixtures, dashboards, demo, reviews, KPIs, rolling windows,
# retention, saved queries, templates, audit, forwarding) again with kpid and the tests shifted
# in time by libfaketime (FAKETIME_OFFSET, default +400d; the monotonic clock stays real, so
# timeouts hold). Peers (Prometheus, chromium, curl) run on the real clock: the tests start them
# without the preload. `.ci/run` runs it after `make test`. Through the `faketime` wrapper only:
# libfaketime 0.9.10 preloaded without it makes its own shared memory and garbles the
# command-line arguments Swift programs see (swift and kpid then crash or run the wrong
# command). Not the SIGKILL fault tests: the wrapper's processes share a semaphore that a
# killed kpid can leave taken.
FAKETIME_OFFSET ?= +400d
DATE_SENSITIVE = DashboardTests|DemoTests|WeeklyReview|KPIAPITests|RollingKPITests|RetentionTests|TemplateRetentionTests|SavedQueryTests|KPIFixturesTests|KPIReportTests|KPITemplatesTests|AuditTests|ForwardTests
test-shifted: deps
	$(SWIFT) build --build-tests
	FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f '$(FAKETIME_OFFSET)' $(SWIFT) test --skip-build --filter '$(DATE_SENSITIVE)'

# Prints ingest throughput and bytes per sample (per format, kpid as its own process, beside
# SQLite, Prometheus, VictoriaMetrics and DuckDB loading the same samples), query latency kpid vs SQLite vs DuckDB, restart time at 100 M samples
# and /metrics scrape time with ~10,000 KPI series (release build).
bench: deps
	@./scripts/install-bench-deps.sh
	$(SWIFT) build -c release --product kpid
	$(SWIFT) run -c release kpid-bench ingest --peers sqlite,duckdb
	$(SWIFT) run -c release kpid-bench ingest --durability power --peers sqlite
	$(SWIFT) run -c release kpid-bench ingest --format csv
	$(SWIFT) run -c release kpid-bench ingest --format protobuf
	$(SWIFT) run -c release kpid-bench ingest --format remote_write --peers sqlite,prometheus,victoriametrics,duckdb
	$(SWIFT) run -c release kpid-bench query
	$(SWIFT) run -c release kpid-bench promql
	$(SWIFT) run -c release kpid-bench restart --samples 100000000
	$(SWIFT) run -c release kpid-bench scrape

# libFuzzer on every decoder and parser, FUZZ_SECONDS (default 60) each; crashes in Fuzz/artifacts.
fuzz: deps
	./scripts/fuzz.sh

# Longer fault runs: SOAK_ROUNDS (default 20) SIGKILLs under load on one data directory, each
# followed by a check of every acknowledged sample, plus the quick fault tests.
SOAK_ROUNDS ?= 20
soak: deps
	$(SWIFT) build --build-tests
	KPID_SOAK_ROUNDS=$(SOAK_ROUNDS) $(SWIFT) test --skip-build --filter "CrashTests|FaultTests"

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks Package.swift

clean:
	rm -rf .build
