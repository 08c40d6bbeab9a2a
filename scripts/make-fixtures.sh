#!/bin/sh
# Regenerates the committed fixtures: every site of Fixtures/sites.json, 56 days ending
# 2026-11-22 (ISO weeks 2026-W40 .. W47), seed 1, gzip-compressed, with the built kpid.
#
#   scripts/make-fixtures.sh              # builds kpid (debug) if needed, writes Fixtures/*/*.ndjson.gz
#   KPID=.build/release/kpid scripts/make-fixtures.sh
set -eu
cd "$(dirname "$0")/.."
KPID=${KPID:-.build/debug/kpid}
if [ ! -x "$KPID" ]; then
    swift build --product kpid
fi
for entry in airport:JFK:jfk retail:NYC-5TH:nyc-5th campus:CAMPUS-E:campus-e stadium:ARENA-1:arena-1 \
    logistics:DC-ATL:dc-atl manufacturing:PLANT-1:plant-1; do
    template=${entry%%:*}
    rest=${entry#*:}
    site=${rest%%:*}
    file=${rest#*:}
    mkdir -p "Fixtures/$template"
    "$KPID" fixtures generate --template "$template" --site "$site" --days 56 --seed 1 --end 2026-11-23 \
        --step-minutes 15 --sites Fixtures/sites.json --out "Fixtures/$template/$file.ndjson.gz"
    echo "Fixtures/$template/$file.ndjson.gz: $(wc -c <"Fixtures/$template/$file.ndjson.gz") bytes"
done
