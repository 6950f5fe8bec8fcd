#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz, each for a bounded time, on a working copy of its
# seed corpus (tests/fuzz/corpus/<target>/ stays as checked in). Fails when a target finds a
# crash, a leak, a timeout or an abort; the input is left in <build>/fuzz-artifacts/.
# Build first (docs/testing.md):
#   cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
#         -DMONOCHAT_BUILD_FUZZ=ON -DMONOCHAT_BUILD_TESTS=OFF -DMONOCHAT_BUILD_TOOLS=OFF \
#         -DMONOCHAT_SANITIZE=address,undefined
#   cmake --build build/fuzz --target monochat_fuzzers
# Usage: scripts/fuzz.sh [--build-dir build/fuzz] [--seconds 30] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build/fuzz
seconds=30
targets=()
while (($#)); do
    case "$1" in
        --build-dir) build_dir=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if ((${#targets[@]} == 0)); then
    targets=(fuzz_ws_frame fuzz_ws_codec fuzz_http_request fuzz_config fuzz_search_query)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
status=0
for t in "${targets[@]}"; do
    name=${t#fuzz_}
    bin="$build_dir/tests/fuzz/$t"
    seeds="tests/fuzz/corpus/$name"
    work="$build_dir/fuzz-corpus/$name"
    mkdir -p "$work"
    log="$artifacts/$t.log"
    echo "fuzz: $t for ${seconds}s (seeds $seeds, log $log)"
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t-" "$work" "$seeds" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        cover=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz: $t ok: $runs runs, $rate exec/s, $cover"
    else
        echo "fuzz: $t FAILED; the input is in $artifacts/, the report:" >&2
        grep -v '^#[0-9]' "$log" | tail -60 >&2
        status=1
    fi
done
exit $status
