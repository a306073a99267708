#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a tested Cairn: installs the Debian
# packages, builds, runs the whole suite (unit + end-to-end over real TLS), then builds and runs it
# once more under AddressSanitizer + UndefinedBehaviorSanitizer, with every libFuzzer target run on
# the same 300,000 generated inputs in between (ops/fuzz.sh: the same inputs on every machine).
# Set CAIRN_SKIP_SANITIZERS=1 to skip the fuzzing and the second pass while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
ops/build.sh build
(cd build && ctest --output-on-failure -j2)
if [ "${CAIRN_SKIP_SANITIZERS:-0}" != 1 ]; then
  FUZZ_RUNS=${FUZZ_RUNS:-300000} ops/fuzz.sh
  ops/build.sh build-asan -DCAIRN_SANITIZE=ON -DCAIRN_BENCH=OFF
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j2)
fi
