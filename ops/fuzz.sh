#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-sanitize and runs each for
# SECONDS (default 20), starting from the seeds in tests/fixtures and tests/fuzz/seeds. Any crash
# fails the script and leaves its input in build-sanitize/crashes/TARGET/: turn it into a regression
# test. Usage: ops/fuzz.sh [SECONDS] [TARGET...]
# With FUZZ_RUNS=N each target instead runs N inputs from a fixed random seed: the same inputs
# every time, so a run that passed here passes in CI (ops/test.sh does this). Explore for longer,
# with fresh seeds, by giving SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(plist device_message event mdm_signature scep ota typed_command intake declarative ade_token ade_answers
  machine_info webhook audit_export cli_table)
# The sanitizer tree ops/test.sh also runs the suite in (clang, ASan + UBSan, coverage).
CC=clang CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCAIRN_FUZZ=ON -DCAIRN_SANITIZE=ON -DCAIRN_BENCH=OFF >/dev/null
cmake --build build-sanitize -j "${CAIRN_JOBS:-2}" --target "${targets[@]/#/cairn_fuzz_}"

if [ -n "${FUZZ_RUNS:-}" ]; then
  rm -rf build-sanitize/corpus  # inputs kept from earlier runs would change what is explored
fi
budget_for() {
  if [ -z "${FUZZ_RUNS:-}" ]; then
    echo "-max_total_time=$seconds"
  elif [ "$1" = scep ] || [ "$1" = ade_token ]; then
    echo "-runs=$((FUZZ_RUNS / 15)) -seed=1"  # each input costs an RSA decryption (~1 ms)
  elif [ "$1" = machine_info ]; then
    echo "-runs=$((FUZZ_RUNS / 5)) -seed=1"  # half the inputs are signed first (~0.5 ms)
  else
    echo "-runs=$FUZZ_RUNS -seed=1"
  fi
}

seeds_for() {
  case "$1" in
    plist) echo tests/fixtures/device-messages tests/fixtures/schuetz tests/fuzz/seeds/plist ;;
    device_message) echo tests/fixtures/device-messages tests/fixtures/schuetz \
      tests/fuzz/seeds/device_message ;;
    *) echo "tests/fuzz/seeds/$1" ;;
  esac
}
# Each target in its own process, CAIRN_JOBS (2) at a time; a target's output is shown when it
# ends, and any target's failure fails the script.
fuzz_one() {
  local t=$1 status=0
  local corpus=build-sanitize/corpus/$t crashes=build-sanitize/crashes/$t
  local log=build-sanitize/fuzz-$t.log
  mkdir -p "$corpus" "$crashes"
  # shellcheck disable=SC2046
  UBSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    build-sanitize/tests/fuzz/cairn_fuzz_"$t" $(budget_for "$t") -max_len=262144 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" $(seeds_for "$t") >"$log" 2>&1 || status=$?
  printf '== %s (exit status %s)\n%s\n' "$t" "$status" "$(tail -n 12 "$log")"
  return "$status"
}
export -f fuzz_one budget_for seeds_for
export FUZZ_RUNS seconds
printf '%s\n' "${targets[@]}" | xargs -P "${CAIRN_JOBS:-2}" -I{} bash -c 'fuzz_one "$1"' _ {}
