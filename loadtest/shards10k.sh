#!/bin/sh
# shards10k.sh: the issue-19 scenario of 10,000 tenants over `local` and two
# shards. Three real `tenantgate serve` processes on loopback: shards a and
# b, and a front whose catalog knows them (`shards add`); the front places
# each new tenant (least loaded), so a third stay local.
#
#   loadtest/shards10k.sh setup W    # start, provision 10,000 tenants (saved in W/tenants.json), stop
#   loadtest/shards10k.sh run W      # start, 1,000 req/s uniform for DURATION, stop
#   loadtest/shards10k.sh up W       # start and leave running (pids in W/pids), for runs in a row:
#   loadtest/shards10k.sh load W     # the run's load line alone, against servers already up
#   loadtest/shards10k.sh down W     # stop what up started
#
# TENANTGATE and LOADTEST name the binaries (default ./bin/...); TENANTS
# (10000), RATE (1000), DURATION (20s) and PORT (19300: the front, +1 and +2
# the shards, +10..12 their metrics listeners) shape the run; FRONT_ARGS and
# SHARD_ARGS are added to the servers' `serve` flags (e.g.
# --max-open-tenants). WARMUP (e.g. 40s) first runs the same load at
# WARMUP_RATE (300) for that long, unmeasured, so the measured run sees
# open databases. Anything after W is passed to the load run's loadtest.
# TENANTS_FILE (default W/tenants.json) names the tenants a run uses.
set -eu
TG=${TENANTGATE:-./bin/tenantgate}
LT=${LOADTEST:-./bin/loadtest}
TENANTS=${TENANTS:-10000}
RATE=${RATE:-1000}
DURATION=${DURATION:-20s}
PORT=${PORT:-19300}
phase=$1
W=$2
shift 2
SECRET=shards10k-jwt-secret-0123456789abcdefghij
mkdir -p "$W/a" "$W/b" "$W/front"
pids=""
if [ "$phase" = down ]; then
	[ -f "$W/pids" ] && kill $(cat "$W/pids") 2>/dev/null || true
	rm -f "$W/pids"
	exit 0
fi
stop() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
}
[ "$phase" = load ] || trap stop EXIT INT TERM
start() { # name port metrics-port extra...
	name=$1 port=$2 mport=$3
	shift 3
	"$TG" serve --data-dir "$W/$name" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$mport" \
		--seed-demo=false --tenant-rate 0 --tenant-max-inflight 0 --max-conns-per-ip 0 --jwt-secret "$SECRET" "$@" \
		>>"$W/$name.log" 2>&1 &
	pids="$pids $!"
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$mport/readyz" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "$name did not become ready (see $W/$name.log)" >&2
	exit 1
}
load() {
	"$LT" --target "http://127.0.0.1:$PORT" --jwt-secret "$SECRET" --tenants "$TENANTS" --tenants-file "${TENANTS_FILE:-$W/tenants.json}" \
		--rate "$RATE" --duration "$DURATION" --max-vus 1000 --self-ceiling 0 --threshold 'http_req_duration:p(99)<50' \
		--threshold 'http_req_failed:rate==0' "$@" || echo "loadtest exit status $?"
}
if [ "$phase" = load ]; then
	uptime
	load "$@"
	uptime
	exit 0
fi
start a $((PORT + 1)) $((PORT + 11)) ${SHARD_ARGS:-}
start b $((PORT + 2)) $((PORT + 12)) ${SHARD_ARGS:-}
start front "$PORT" $((PORT + 10)) ${FRONT_ARGS:-}
if [ ! -f "$W/shards.added" ]; then
	for s in a b; do
		p=$((PORT + 1))
		[ $s = b ] && p=$((PORT + 2))
		tok=$("$TG" token --role shard --ttl 720h --data-dir "$W/$s" --jwt-secret "$SECRET")
		"$TG" shards add $s "http://127.0.0.1:$p/t/{host}/?authToken=$tok" --data-dir "$W/front"
	done
	touch "$W/shards.added"
fi
case $phase in
setup)
	"$LT" --target "http://127.0.0.1:$PORT" --jwt-secret "$SECRET" --tenants "$TENANTS" --tenants-file "${TENANTS_FILE:-$W/tenants.json}" \
		--setup-concurrency 8 --rate 0.001 --duration 1s --self-ceiling 0 --quiet
	"$TG" shards list --data-dir "$W/front"
	;;
run)
	if [ -n "${WARMUP:-}" ]; then
		"$LT" --target "http://127.0.0.1:$PORT" --jwt-secret "$SECRET" --tenants "$TENANTS" --tenants-file "${TENANTS_FILE:-$W/tenants.json}" \
			--rate "${WARMUP_RATE:-300}" --duration "$WARMUP" --max-vus 1000 --self-ceiling 0 --quiet >"$W/warmup.txt" 2>&1 || true
		grep -E "http_req_failed|http_reqs\.|tenants\.\." "$W/warmup.txt" || true
	fi
	uptime
	load "$@"
	uptime
	;;
up)
	echo "$pids" >"$W/pids"
	trap - EXIT INT TERM # leave them running
	echo "front http://127.0.0.1:$PORT, shards :$((PORT + 1)) :$((PORT + 2)); stop with: $0 down $W"
	;;
*)
	echo "usage: $0 setup|run|up|load|down W" >&2
	exit 2
	;;
esac
