#!/usr/bin/env bash
# Starts and stops a monochat server for monochat-bench, by PID only.
#   tools/bench/bench_server.sh start BINARY STATE_DIR [EXTRA_JSON_FILE]
#       writes STATE_DIR/config.json (port 0, data in STATE_DIR/data, limits raised for
#       benchmarks, cheap password hashing so that thousands of bench users register fast),
#       starts BINARY, waits for its `msg=listening` line and for /readyz, and prints
#       "PID PORT". The server keeps storage.sync = always: acks stay durable.
#   tools/bench/bench_server.sh stop STATE_DIR      SIGTERM to the PID in STATE_DIR/pid, waits
#   tools/bench/bench_server.sh restart-time BINARY STATE_DIR
#       starts the server again on the existing data and prints the seconds from exec to the
#       first 200 of /readyz, then "PID PORT".
# The Argon2 cost (argon2_ops 1, 64 KiB) is for creating bench users only; never in production.
set -euo pipefail
ulimit -n "$(ulimit -Hn)"

cmd=${1:-}
wait_listening() {  # $1 = log, $2 = pid
  local addr=""
  for _ in $(seq 1 600); do
    addr=$(grep -o 'msg=listening addr=[0-9.:]*' "$1" 2>/dev/null | head -1 | sed 's/.*addr=//') || true
    [[ -n $addr ]] && break
    kill -0 "$2" 2>/dev/null || { echo "server exited:" >&2; tail -20 "$1" >&2; exit 1; }
    sleep 0.05
  done
  [[ -n $addr ]] || { echo "no listening line in 30 s" >&2; exit 1; }
  echo "${addr##*:}"
}
wait_ready() {  # $1 = port; prints seconds since $2 (ns) at the first 200
  for _ in $(seq 1 60000); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz" 2>/dev/null) == 200 ]]; then
      echo "scale=3; ($(date +%s%N) - $2) / 1000000000" | bc
      return 0
    fi
    sleep 0.005
  done
  echo "not ready" >&2; exit 1
}

case "$cmd" in
  start)
    bin=$(realpath "$2"); dir=$3; extra=${4:-}
    mkdir -p "$dir/data"
    cat >"$dir/config.json" <<JSON
{"server": {"port": 0}, "storage": {"data_dir": "$dir/data", "sync": "always"},
 "limits": {"send_rate": 1000000, "send_burst": 1000000, "auth_rate": 100000000, "max_connections": 200000,
            "max_connections_per_address": 0, "connection_rate": 0, "ws_message_rate": 0},
 "auth": {"argon2_ops": 1, "argon2_memory_kib": 64}}
JSON
    if [[ -n $extra ]]; then
      python3 - "$dir/config.json" "$extra" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
for k, v in b.items(): a.setdefault(k, {}).update(v)
json.dump(a, open(sys.argv[1], "w"))
PY
    fi
    "$bin" --config "$dir/config.json" >"$dir/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    port=$(wait_listening "$dir/server.log" "$pid")
    wait_ready "$port" "$(date +%s%N)" >/dev/null
    echo "$pid $port"
    ;;
  restart-time)
    bin=$(realpath "$2"); dir=$3
    : >"$dir/server.log"
    t0=$(date +%s%N)
    "$bin" --config "$dir/config.json" >"$dir/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    port=$(wait_listening "$dir/server.log" "$pid")
    secs=$(wait_ready "$port" "$t0")
    echo "$secs $pid $port"
    ;;
  stop)
    dir=$2
    [[ -f $dir/pid ]] || exit 0
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$dir/pid"
    ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
