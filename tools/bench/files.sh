#!/usr/bin/env bash
# File upload benchmark (docs/benchmarks.md, "Files"): starts the given monochat binary on a
# fresh data directory (RocksDB, sync always), registers a user, then
#   1. uploads a 1 KiB file (warm-up), then one 25 MiB file (curl, loopback) and samples the server's RSS every 5 ms during it;
#   2. uploads 100 files of 1 MiB at once (100 curl processes in parallel).
# Prints the upload times, throughput and the RSS before and at its peak.
#   tools/bench/files.sh <monochat binary>
set -euo pipefail
bin=$(realpath "${1:?usage: files.sh <monochat binary>}")
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/config.json" <<JSON
{"server": {"host": "127.0.0.1", "port": 0},
 "storage": {"data_dir": "$work/data"},
 "limits": {"auth_rate": 100000},
 "auth": {"argon2_ops": 1, "argon2_memory_kib": 64}}
JSON
"$bin" --config "$work/config.json" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1200); do
    addr=$(grep -o 'addr=[0-9.]*:[0-9]*' "$work/server.log" | head -1 | cut -d= -f2) || true
    [[ -n "$addr" ]] && break
    sleep 0.05
done
if [[ -z "$addr" ]]; then
    cat "$work/server.log" >&2
    exit 1
fi
base="http://$addr/api/v1"
token=$(curl -fsS -H 'Content-Type: application/json' \
    -d '{"username":"bench","password":"correct horse battery"}' "$base/auth/register" |
    sed 's/.*"token":"\([^"]*\)".*/\1/')
head -c $((25 * 1024 * 1024)) /dev/urandom > "$work/big.bin"
head -c $((1024 * 1024)) /dev/urandom > "$work/one.bin"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

# A first small upload pays the one-time costs (libmagic maps its database, the file service's
# threads start), so that the measured growth is the 25 MiB upload's own.
head -c 1024 /dev/urandom > "$work/small.bin"
curl -fsS -o /dev/null -H "Authorization: Bearer $token" --data-binary "@$work/small.bin" \
    "$base/files?name=warmup.bin"
before=$(rss)
( peak=0; while [[ ! -e "$work/done" ]]; do r=$(rss); ((r > peak)) && peak=$r; echo "$peak" > "$work/peak"; sleep 0.005; done ) &
sampler=$!
t=$(curl -fsS -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
    -H 'Expect:' --data-binary "@$work/big.bin" "$base/files?name=big.bin")
touch "$work/done"
wait "$sampler"
peak=$(cat "$work/peak")
echo "25 MiB upload: ${t} s, $(awk -v t="$t" 'BEGIN {printf "%.0f", 25 / t}') MiB/s"
echo "server RSS: ${before} KiB before, ${peak} KiB at the peak during the upload (+$((peak - before)) KiB)"

start=$(date +%s.%N)
seq 100 | xargs -P 100 -I{} curl -fsS -o /dev/null -H "Authorization: Bearer $token" \
    -H 'Expect:' --data-binary "@$work/one.bin" "$base/files?name=one-{}.bin"
end=$(date +%s.%N)
echo "100 parallel 1 MiB uploads: $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f s, %.0f uploads/s, %.0f MiB/s", b - a, 100 / (b - a), 100 / (b - a)}')"
echo "server RSS after: $(rss) KiB"
