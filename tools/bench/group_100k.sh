#!/usr/bin/env bash
# Issue 22's workload: one group of MEMBERS (100,000) seeded by `monochat seed` on a stopped
# server, ONLINE (19,000) of them connected, messages at each of RATES in turn, REPS runs each,
# one JSON line per run appended to OUT (then tools/bench/summarize.py-style medians by hand).
#   tools/bench/group_100k.sh OUT ["1 10 50"] [3]
#   BUILD=build/release-test MEMBERS=100000 ONLINE=19000 DURATION=30 tools/bench/group_100k.sh /tmp/g.jsonl
# One server serves every run (its membership cache stays warm, as in production); it is
# started with tools/bench/bench_server.sh and stopped by PID. The seed's timing is the first
# line of OUT ({"seed": ...}).
set -uo pipefail
cd "$(dirname "$0")/../.."
ulimit -n "$(ulimit -Hn)"
OUT=$1; RATES=${2:-"1 10 50"}; REPS=${3:-3}
BUILD=${BUILD:-build/release-test}
BIN=$BUILD/src/app/monochat
BENCH=$BUILD/tools/monochat-bench
MEMBERS=${MEMBERS:-100000}
ONLINE=${ONLINE:-19000}
DURATION=${DURATION:-30}
SENDERS=${SENDERS:-10}
CHURNERS=${CHURNERS:-10}
SYNCS=${SYNCS:-5}
B=tools/bench/bench_server.sh
STATE=$(mktemp -d /tmp/g100k.XXXXXX)
trap '$B stop "$STATE"' EXIT

# The config and an empty data directory as bench_server.sh makes them, then seeding offline.
$B start "$BIN" "$STATE" >/dev/null || exit 3
$B stop "$STATE"
t0=$(date +%s%N)
"$BIN" seed --config "$STATE/config.json" --users "$MEMBERS" --group-members "$MEMBERS" \
  --tokens $((ONLINE + CHURNERS + SYNCS)) --prefix g100k --group-name "one hundred thousand" \
  --out "$STATE/seeded.txt" >"$STATE/seed.json" || exit 3
secs=$(printf "%.3f" "$(echo "scale=3; ($(date +%s%N) - $t0) / 1000000000" | bc)")
gid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["group_id"])' "$STATE/seed.json")
echo "{\"seed\": $(cat "$STATE/seed.json"), \"wall_secs\": $secs, \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$OUT"
echo "seeded $MEMBERS in $secs s: $(cat "$STATE/seed.json")"

read -r pid port < <($B start "$BIN" "$STATE") || exit 3
echo "server pid $pid port $port"
for rate in $RATES; do
  for rep in $(seq 1 "$REPS"); do
    echo "== rate $rate, run $rep (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BENCH" group-100k --port "$port" --server-pid "$pid" --seeded "$STATE/seeded.txt" \
      --group-id "$gid" --online "$ONLINE" --senders "$SENDERS" --rate "$rate" \
      --duration "$DURATION" --churners "$CHURNERS" --offline-syncs "$SYNCS" \
      --src-ips 64 --max-seconds 600 --label "g100k-r$rate-$rep" --out "$OUT"
  done
done
