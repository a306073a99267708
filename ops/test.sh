#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a tested Cairn: installs the Debian
# packages, builds, runs the whole suite (unit + end-to-end over real TLS), then builds it once
# more with clang under AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's coverage
# (build-sanitize), runs every libFuzzer target on the same 300,000 generated inputs (ops/fuzz.sh:
# the same inputs on every machine), and runs the suite again under the sanitizers. The fuzz
# targets and the second pass share that one tree's libraries.
# Set CAIRN_SKIP_SANITIZERS=1 to skip the fuzzing and the second pass while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
ops/build.sh build
(cd build && ctest --output-on-failure -j2)
if [ "${CAIRN_SKIP_SANITIZERS:-0}" != 1 ]; then
  CC=clang CXX=clang++ ops/build.sh build-sanitize -DCAIRN_SANITIZE=ON -DCAIRN_FUZZ=ON \
    -DCAIRN_BENCH=OFF
  FUZZ_RUNS=${FUZZ_RUNS:-300000} ops/fuzz.sh
  (cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j2)
fi
