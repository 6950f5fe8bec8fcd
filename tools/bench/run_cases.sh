#!/usr/bin/env bash
# Runs monochat-bench cases, each repetition against a freshly started server (its own temp
# directory, stopped by PID), and appends one JSON line per run to OUT.
#   tools/bench/run_cases.sh OUT REPS CASE...
#   BUILD=build-h5 tools/bench/run_cases.sh /tmp/bench.jsonl 3 fanout-r1000 fanout-lat pairs-max
# Cases (the peers' cases of ../shared/bench-peers, same parameters):
#   fanout-r1000   1,010 members (= 1,000 receivers + 10 senders), 10 senders, window 20, acks pace
#   fanout-probe   the same, window slots freed by a probe receiver (the peers' pacing)
#   fanout-lat     the same group, 50 sends/s in total (10 senders x 5/s, staggered), 500 messages
#   pairs-max      1,000 pairs, window 10, 10 s
#   pairs-rate     1,000 pairs, 20,000 messages/s in total, 10 s
#   pairs-2k       1,000 pairs, 2,000 messages/s in total (a load monochat sustains), 10 s
#   idle-19000     19,000 connections (one guest each) held 10 s
#   reconnect      10,000 clients in groups of 100 drop, 10 messages each missed, reconnect + sync
#   search         100,000 messages stored, 32 clients query for 10 s
# Before each run it waits (at most IDLE_WAIT s, default 120) until the machine has been under
# IDLE_BELOW % busy (default 15, of 100 % per core) for 3 s: other work bends the figures.
set -uo pipefail
cd "$(dirname "$0")/../.."
ulimit -n "$(ulimit -Hn)"
OUT=$1; REPS=$2; shift 2
BUILD=${BUILD:-build-h5}
BIN=$BUILD/src/app/monochat
BENCH=$BUILD/tools/monochat-bench
IDLE_BELOW=${IDLE_BELOW:-15}
IDLE_WAIT=${IDLE_WAIT:-120}

busy_pct() {  # machine busy % (of one core) over 1 s
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local ta=0 tb=0 i
  for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) ))
  local ticks; ticks=$(getconf CLK_TCK)
  echo $(( 100 * ((tb - ta) - idle) / ticks ))
}
wait_idle() {
  local quiet=0 waited=0 b
  while (( waited < IDLE_WAIT )); do
    b=$(busy_pct); waited=$((waited + 1))
    if (( b < IDLE_BELOW )); then quiet=$((quiet + 1)); (( quiet >= 3 )) && return 0; else quiet=0; fi
  done
  echo "machine still busy ($b %) after ${IDLE_WAIT} s; running anyway" >&2
}

args_of() {
  case $1 in
    fanout-r1000) echo fanout --members 1010 --senders 10 --window 20 --messages 10000 --duration 10 ;;
    fanout-probe) echo fanout --members 1010 --senders 10 --window 20 --messages 10000 --duration 10 --pace probe ;;
    fanout-lat)   echo fanout --members 1010 --senders 10 --window 20 --messages 500 --rate 50 --duration 10 ;;
    pairs-max)    echo pairs --pairs 1000 --window 10 --duration 10 ;;
    pairs-rate)   echo pairs --pairs 1000 --window 10 --rate 20000 --duration 10 ;;
    pairs-2k)     echo pairs --pairs 1000 --window 10 --rate 2000 --duration 10 ;;
    idle-19000)   echo idle --connections 19000 --duration 10 --connect-concurrency 1000 ;;
    reconnect)    echo reconnect --connections 10000 --group-size 100 --missed 10 ;;
    search)       echo search --messages 100000 --duration 10 --max-seconds 300 ;;
    *) return 1 ;;
  esac
}

dir=""
cleanup() { [[ -n $dir ]] && tools/bench/bench_server.sh stop "$dir" && rm -rf "$dir"; dir=""; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

for case in "$@"; do
  a=$(args_of "$case") || { echo "unknown case $case" >&2; continue; }
  for rep in $(seq 1 "$REPS"); do
    wait_idle
    dir=$(mktemp -d /tmp/monochat-bench.XXXXXX)
    if ! read -r pid port < <(tools/bench/bench_server.sh start "$BIN" "$dir"); then
      echo "!! server did not start" >&2; cleanup; continue
    fi
    echo "== $case $rep/$REPS: monochat-bench $a --port $port --server-pid $pid" >&2
    # shellcheck disable=SC2086
    timeout 600 "$BENCH" $a --port "$port" --server-pid "$pid" --label "$case" --out "$OUT" \
      | grep -v '^{' || echo "!! $case exited non-zero" >&2
    cleanup
    sleep 1
  done
done
