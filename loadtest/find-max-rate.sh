#!/bin/sh
# find-max-rate.sh: step a constant arrival rate up until a run crosses the
# latency target, and report the highest rate that held.
#
#   loadtest/find-max-rate.sh 500 1000 1500 2000 -- --spawn --tenants 100 --duration 20s
#
# Each rate runs `loadtest` (LOADTEST, default ./bin/loadtest) with the
# arguments after `--` plus thresholds p(99) < P99_MS (default 50) ms, no
# failed requests and no dropped iterations; the exit status 99 (a threshold
# crossed) ends the search. Summaries go to OUT (default ./loadtest-maxrate).
set -u
LOADTEST=${LOADTEST:-./bin/loadtest}
P99_MS=${P99_MS:-50}
OUT=${OUT:-./loadtest-maxrate}
rates=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do rates="$rates $1"; shift; done
[ $# -gt 0 ] && shift
mkdir -p "$OUT"
best=none
for rate in $rates; do
	"$LOADTEST" "$@" --rate "$rate" --quiet \
		--threshold "http_req_duration:p(99)<$P99_MS" \
		--threshold 'http_req_failed:rate==0' \
		--threshold 'dropped_iterations:count==0' \
		--summary-export "$OUT/rate-$rate.json" > "$OUT/rate-$rate.txt" 2> "$OUT/rate-$rate.err"
	code=$?
	p99=$(grep -o "p(99)=[^ ]*" "$OUT/rate-$rate.txt" | head -1)
	case $code in
	0) echo "rate $rate/s: held ($p99)"; best=$rate ;;
	99) echo "rate $rate/s: crossed ($p99; see $OUT/rate-$rate.txt)"; break ;;
	*) echo "rate $rate/s: loadtest failed with status $code (see $OUT/rate-$rate.txt)"; exit 1 ;;
	esac
done
echo "highest rate with p(99) < ${P99_MS}ms, no failures, no drops: $best"
