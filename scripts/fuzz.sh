#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ and runs each for FUZZ_SECONDS (default 60), starting from
# the seed corpus in Tests/FuzzCorpus/<target>. Inputs that crash are written to
# Fuzz/artifacts/<target>/ and the script exits non-zero; each becomes a regression test. A target
# with a dictionary, Fuzz/dictionaries/<target without "Fuzz", lower case>.dict (sql.dict,
# promql.dict, recovery.dict), gets it with -dict=.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"FuzzNDJSON FuzzCSV FuzzPrometheusText FuzzProtobuf FuzzRemoteWrite FuzzSQL FuzzPromQL FuzzRecovery"}
(cd Fuzz && swift build -Xswiftc -sanitize=fuzzer)
failed=0
for t in $targets; do
    corpus=Fuzz/.corpus/$t
    mkdir -p "$corpus" "Fuzz/artifacts/$t"
    cp -n Tests/FuzzCorpus/$t/* "$corpus"/ 2>/dev/null || true
    dict=Fuzz/dictionaries/$(echo "${t#Fuzz}" | tr '[:upper:]' '[:lower:]').dict
    dictarg=()
    [ -f "$dict" ] && dictarg=(-dict="$dict")
    echo "== $t: ${seconds}s${dictarg:+, $dict}"
    if ! Fuzz/.build/debug/$t -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        "${dictarg[@]}" -artifact_prefix="Fuzz/artifacts/$t/" "$corpus" > "Fuzz/artifacts/$t.log" 2>&1; then
        echo "   CRASH: see Fuzz/artifacts/$t.log and Fuzz/artifacts/$t/"
        failed=1
    else
        # Executions, and the coverage (cov: edges, ft: features) of the last status line.
        grep -E "stat::number_of_executed_units" "Fuzz/artifacts/$t.log" | tail -1 | sed 's/^/   /' || true
        grep -E "^#[0-9]+.*cov: " "Fuzz/artifacts/$t.log" | tail -1 | sed 's/^/   /' || true
    fi
done
exit $failed
