#!/usr/bin/env bash
# The README's test command (and what CI runs through .ci/run). In order:
#
# 1. Installs what is missing (scripts/deps.sh --test).
# 2. Builds the test tree with clang, AddressSanitizer and UndefinedBehaviorSanitizer, warnings
#    as errors: the server, every test, the tools and the fuzz targets, in build/test.
# 3. Runs the whole ctest suite there (unit, integration, browser, chaos) under the sanitizers:
#    the first ASan, LeakSanitizer or UBSan report ends the process that made it with a failure,
#    and the integration tests start the sanitized server binary.
# 4. Runs each fuzz target for a bounded time on its seed corpus (scripts/fuzz.sh).
# 5. Builds the server exactly as the run command does (GCC, Release), warnings as errors, in
#    build/release-test, and runs the integration, browser and chaos tests again against that
#    binary: the one users run is tested too, GCC's warnings are checked, and code that only
#    breaks under GCC's coroutines or its optimizer is caught.
#
# One sanitized tree instead of a plain one, a sanitized one and a fuzz one keeps a cold run
# (clean clone, empty ccache) inside CI's 30 minutes on 2 cores; docs/testing.md has the times.
#
# Environment: MONOCHAT_SANITIZE (default address,undefined; empty builds the test tree without
# sanitizers), MONOCHAT_FUZZ_SECONDS (per fuzz target, default 10; 0 skips the fuzz step),
# MONOCHAT_BUILD_DIR (default build/test), MONOCHAT_RELEASE_BUILD_DIR (default build/release-test;
# MONOCHAT_RELEASE_TESTS=0 skips step 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
build_dir=${MONOCHAT_BUILD_DIR:-build/test}
release_dir=${MONOCHAT_RELEASE_BUILD_DIR:-build/release-test}
sanitize=${MONOCHAT_SANITIZE-address,undefined}
fuzz_seconds=${MONOCHAT_FUZZ_SECONDS:-10}
release_tests=${MONOCHAT_RELEASE_TESTS:-1}
jobs=$(nproc)
fuzz=OFF
if ((fuzz_seconds > 0)); then
    fuzz=ON
fi

# Connection tests open thousands of sockets: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Any sanitizer report fails the test that caused it: the first error ends the process with a
# non-zero status (UBSan's checks are built with -fno-sanitize-recover, so they abort too).
# The server binary the integration tests start inherits these settings.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# --- 2, 3: the sanitized test tree and the whole suite ---
# -O1 is what the sanitizers' manuals advise: stack traces stay readable and the tree compiles
# in about half the time of -O2.
# A tree configured earlier with another compiler cannot be switched in place.
if [[ -f $build_dir/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++' "$build_dir/CMakeCache.txt"; then
    echo "test.sh: $build_dir was configured with another compiler; configuring it afresh"
    rm -rf "$build_dir"
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DMONOCHAT_WERROR=ON -DMONOCHAT_BUILD_TESTS=ON -DMONOCHAT_BUILD_TOOLS=ON \
      -DMONOCHAT_BUILD_FUZZ="$fuzz" -DMONOCHAT_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j "$jobs"
(cd "$build_dir" && ctest --output-on-failure --timeout 900 -j "$jobs")

# --- 4: fuzz each target for a bounded time on a copy of its seed corpus ---
if [[ $fuzz == ON ]]; then
    bash scripts/fuzz.sh --build-dir "$build_dir" --seconds "$fuzz_seconds"
fi

# --- 5: the run command's build, and the tests that start a server, against it ---
if [[ $release_tests != 0 ]]; then
    cmake -S . -B "$release_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMONOCHAT_WERROR=ON \
          -DMONOCHAT_BUILD_TESTS=OFF -DMONOCHAT_BUILD_TOOLS=OFF >/dev/null
    cmake --build "$release_dir" --target monochat -j "$jobs"
    MONOCHAT_TEST_SERVER=$(realpath "$release_dir/src/app/monochat")
    export MONOCHAT_TEST_SERVER
    (cd "$build_dir" && ctest --output-on-failure --timeout 900 -j "$jobs" -L 'integration|browser|chaos')
fi
